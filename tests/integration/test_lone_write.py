"""The common event's one statement (`activities.lone_write`): its event, read model row and outbox rows are written
together, whatever the notice's audience."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.activities import RecordCaseEvent
from domain.model import JETRO, Role
from infra.tables import audit_events, cases, notifications, users
from tests.helpers.recording import a_note, filing_step

MANY = 3500
"""More coordinators than one statement has room for as parameters (asyncpg: 32767, ten an outbox row)."""


def an_acceptance(note: RecordCaseEvent) -> RecordCaseEvent:
    header = note.header.model_copy(update={"type": "accept_case"})
    return note.model_copy(update={"header": header, "payload": {}})


async def test_an_event_that_tells_thousands_is_recorded_with_all_their_mail(registry: AsyncEngine) -> None:
    """On a database of its own (`registry`): thousands of pending messages in the session's database would be sent
    by every relay the later tests run, and fill the outbox pages they read."""
    engine = registry
    org_users = [{"id": str(uuid.uuid4()), "name": f"Coordinator {i}", "role": Role.COORDINATOR, "org": JETRO,
                  "email": f"coordinator-{i}-{uuid.uuid4().hex[:8]}@jetro.example", "language": "en",
                  "token_hash": uuid.uuid4().hex + uuid.uuid4().hex, "created_at": datetime.now(UTC)}
                 for i in range(MANY)]
    async with engine.begin() as conn:
        await conn.execute(insert(users), org_users)
    try:
        env, record, draft, filed = filing_step(engine)
        first = await env.run(record, filed)
        accepted = await env.run(record, an_acceptance(a_note(draft, first.hash, "")))
        assert accepted.seq == 2
        async with engine.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(audit_events)
                                     .where(audit_events.c.case_id == draft.id)) == 2
            assert await conn.scalar(select(cases.c.seq).where(cases.c.id == draft.id)) == 2
            told = await conn.scalar(select(func.count()).select_from(notifications).where(
                notifications.c.case_id == draft.id, notifications.c.seq == 2))
        assert told is not None and told >= MANY + 1  # every coordinator, and the applicant's contact
    finally:
        async with engine.begin() as conn:
            await conn.execute(delete(users).where(users.c.id.in_([u["id"] for u in org_users])))
