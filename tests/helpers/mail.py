"""The mail sink the tests read notifications from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiosmtpd.controller import Controller

from infra.mail_sink import KeepMessages, start_sink


@dataclass
class MailSink:
    """A real SMTP server (aiosmtpd) that keeps what it receives; it can be stopped and started again."""

    handler: KeepMessages
    port: int
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = start_sink(self.handler.folder, self.port, handler=self.handler)

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def folder(self) -> Path:
        return self.handler.folder
