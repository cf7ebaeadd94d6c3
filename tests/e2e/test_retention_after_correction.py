"""Retention after update_contact (issues 17 + 19): once the case's personal data is erased, no outbox row keeps
the name or address of any contact the case had, the first one included."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.retention import archive_case
from infra.settings import Settings
from tests.helpers.desk import Desk
from tests.helpers.people import APPLICANT, COORDINATOR


async def _count(engine: AsyncEngine, sql: str, **params: str) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(sql), params)).scalar_one())


async def test_erasure_reaches_mail_to_a_contact_corrected_earlier(
    desk: Desk, engine: AsyncEngine, tmp_path: Path, settings: Settings
) -> None:
    old = f"old-{uuid.uuid4().hex[:8]}@acme.example"
    case = await desk.file(APPLICANT, contact={"name": "Old Contact Person", "email": old, "language": "en"})
    await desk.ok(case, "relay", COORDINATOR, offices=["sbic"])
    for _ in range(300):  # the relay (the desk's) sends the relay notice to the first contact
        if await _count(engine, "SELECT count(*) FROM notifications WHERE recipient_email = :e AND status = 'sent'",
                        e=old):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the first contact's mail was never sent")
    await desk.ok(case, "update_contact", APPLICANT, name="New Contact", email="new@acme.example", language="en")
    await desk.ok(case, "withdraw", APPLICANT, reason="plans changed")
    await archive_case(engine, case["id"], tmp_path, retention_years=10, now=datetime.now(UTC),
                       keys=settings.audit_keys)
    left = await _count(engine, "SELECT count(*) FROM notifications t WHERE t::text LIKE :n", n=f"%{old}%")
    assert left == 0, "the first contact's address outlives the erasure of the case's personal data"
