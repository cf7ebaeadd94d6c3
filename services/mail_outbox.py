"""The outbox as operators see and fix it: messages by status, a retry once the cause is fixed, the tallies
`/metrics` shows. (Sending is the relay's: `services.mail_relay`.)"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from infra import outbox
from infra.outbox import OutboxRow, OutboxTally, Status

__all__ = ["OutboxRow", "OutboxTally", "Status", "messages", "retry_message", "tally"]

messages = outbox.messages
tally = outbox.tally


async def retry_message(engine: AsyncEngine, message_id: str) -> Status | None:
    """Send an undeliverable message again now (after the address or the server was fixed), with a fresh
    count of tries; its status before (None: no such message; a sent or cancelled one stays as it is)."""
    return await outbox.retry(engine, message_id, datetime.now(UTC))
