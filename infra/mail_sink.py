"""A local SMTP sink (aiosmtpd) for development: it keeps every message it receives as a file, named by its
Message-ID, so `alliance mail list` (and the console) can show them, and a resend replaces, not doubles."""

from __future__ import annotations

import email
import email.policy
import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from domain.email_addresses import address_key
from infra.startup import require_free_port


class KeepMessages:
    """aiosmtpd handler: write each message to `<folder>/<sha1 of Message-ID>.eml`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.deliveries: Counter[str] = Counter()  # Message-ID → times received (tests look for doubles)
        self.envelopes: dict[str, list[str]] = {}  # Message-ID → the envelope's recipients (RCPT TO)
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        key = str(parsed.get("Message-ID") or hashlib.sha1(raw).hexdigest())
        self.deliveries[key] += 1
        self.envelopes[key] = list(envelope.rcpt_tos)
        name = hashlib.sha1(key.encode()).hexdigest()[:20]
        (self.folder / f"{name}.eml").write_bytes(raw)
        return "250 Message accepted"


def start_sink(folder: Path, port: int, host: str = "127.0.0.1", handler: KeepMessages | None = None) -> Controller:
    require_free_port(host, port, "the local mail sink", "SMTP_PORT")
    controller = Controller(handler or KeepMessages(folder), hostname=host, port=port)
    controller.start()
    return controller


@dataclass(frozen=True)
class KeptMessage:
    received: datetime | None
    to: str
    subject: str
    message_id: str
    body: str

    def is_addressed_to(self, address: str | None) -> bool:
        """Whether `address` is among the recipients in `To` (`domain.email_addresses.address_key`: without case, an
        internationalised domain as its U-label or its A-label alike); never for None."""
        if not (address or "").strip():
            return False
        wanted = address_key(address or "")
        return any(address_key(found) == wanted for _, found in getaddresses([self.to]) if found)


def kept_messages(folder: Path) -> list[KeptMessage]:
    """Every message the sink kept, oldest first."""
    messages = []
    for path in folder.glob("*.eml") if folder.exists() else []:
        parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        date = parsed.get("Date")
        body = parsed.get_body(("plain",))
        messages.append(KeptMessage(
            received=parsedate_to_datetime(str(date)) if date else None,
            to=str(parsed.get("To", "")), subject=str(parsed.get("Subject", "")),
            message_id=str(parsed.get("Message-ID", "")),
            body=body.get_content() if body is not None else "",
        ))
    return sorted(messages, key=lambda m: (m.received or datetime.min, m.message_id))
