"""The mail sink the tests read notifications from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


class Picky(KeepMessages):
    """A real SMTP server's handler that refuses some recipients: `refuse` answers 550 for good, `busy`
    answers 451 the first `busy_times` times each is tried (`tries` counts every RCPT TO per address)."""

    def __init__(self, folder: Path, refuse: frozenset[str] = frozenset(), busy: frozenset[str] = frozenset(),
                 busy_times: int = 0) -> None:
        super().__init__(folder)
        self.refuse, self.busy, self.busy_times = refuse, busy, busy_times
        self.tries: dict[str, int] = {}

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        self.tries[address] = self.tries.get(address, 0) + 1
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        if address in self.busy and self.tries[address] <= self.busy_times:
            return "451 4.3.2 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def serve(handler: KeepMessages, port: int, *, smtputf8: bool = False) -> Controller:
    """Start a real SMTP server on 127.0.0.1:`port` (announcing SMTPUTF8 when asked)."""
    controller = Controller(handler, hostname="127.0.0.1", port=port, enable_SMTPUTF8=smtputf8)
    controller.start()
    return controller
