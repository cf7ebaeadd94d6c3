"""The mail relay's tests' shared parts: an SMTP server's settings, the outbox as a test writes and reads it, and
waiting for the relay."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.settings import Settings
from infra.smtp import SmtpSettings
from infra.tables import notifications
from services.mail_relay import MailRelay
from tests.helpers.support import PEPPER

SIGNER = Settings(token_pepper=PEPPER).audit_keys.signer  # the test worker's key (the `settings` fixture)


def smtp_on(port: int) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=port, sender="Case Desk <case-desk@localhost>", timeout=5)


async def rows_of(engine: AsyncEngine, case_id: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        found = await conn.execute(select(notifications).where(notifications.c.case_id == case_id)
                                   .order_by(notifications.c.seq, notifications.c.recipient_email))
        return [dict(r) for r in found.mappings()]


async def until(check: Callable[[], Any], seconds: float = 60) -> Any:
    """Poll `check` (sync or async) until it returns something truthy; fail after `seconds`."""
    for _ in range(int(seconds * 10)):
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {seconds} s")


async def drain(relay: MailRelay) -> int:
    """Let the relay send everything due now; how many messages it handled."""
    handled = 0
    while claimed := await relay.send_due():
        handled += claimed
    return handled


async def outbox_rows(engine: AsyncEngine, *people: tuple[str, str], case_id: str | None = None) -> str:
    """Write one outbox message per (name, address) for a case of its own; the case id."""
    case_id = case_id or str(uuid.uuid4())
    now = datetime.now(UTC) - timedelta(minutes=1)  # due for any clock a test made before
    async with engine.begin() as conn:
        await conn.execute(insert(notifications), [{
            "id": str(uuid.uuid4()), "case_id": case_id, "seq": 1, "template": "relay", "recipient_name": name,
            "recipient_email": address, "language": "en", "subject": f"about {case_id}", "body": "Hello.",
            "created_at": now, "next_attempt_at": now,
        } for name, address in people])
    return case_id
