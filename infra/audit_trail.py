"""Reading the stored audit trail back (for verification and history)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.audit import AuditEntry
from infra.tables import audit_events


async def stored_entries(sessions: async_sessionmaker[AsyncSession], case_id: str) -> list[AuditEntry]:
    query = select(audit_events).where(audit_events.c.case_id == case_id).order_by(audit_events.c.seq)
    async with sessions() as session:
        return [AuditEntry.model_validate(dict(row)) for row in (await session.execute(query)).mappings()]


async def case_ids(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    query = select(audit_events.c.case_id).distinct().order_by(audit_events.c.case_id)
    async with sessions() as session:
        return [str(case_id) for case_id in (await session.scalars(query)).all()]
