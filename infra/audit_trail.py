"""Reading the stored audit trail back (for verification and history)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.audit import AuditEntry, ChainReport, verify_chain
from domain.signing import Keyring
from infra.tables import audit_events


async def stored_entries(sessions: async_sessionmaker[AsyncSession], case_id: str) -> list[AuditEntry]:
    query = select(audit_events).where(audit_events.c.case_id == case_id).order_by(audit_events.c.seq)
    async with sessions() as session:
        return [AuditEntry.model_validate(dict(row)) for row in (await session.execute(query)).mappings()]


async def case_ids(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    query = select(audit_events.c.case_id).distinct().order_by(audit_events.c.case_id)
    async with sessions() as session:
        return [str(case_id) for case_id in (await session.scalars(query)).all()]


async def verify_every_chain(
    sessions: async_sessionmaker[AsyncSession], keyring: Keyring, *, rows_per_fetch: int = 5_000
) -> AsyncGenerator[tuple[str, ChainReport], None]:
    """Every case's chain checked from one server-side cursor ordered by (case_id, seq), case by case.

    The same verdicts as `stored_entries` + `verify_chain` per case, without a query per case (the
    per-case path spends its time on round trips) and in constant memory: only one case's events are
    held at a time, however large the trail.
    """
    query = select(audit_events).order_by(audit_events.c.case_id, audit_events.c.seq)
    current: str | None = None
    entries: list[AuditEntry] = []
    async with sessions() as session:
        result = await session.stream(query.execution_options(yield_per=rows_per_fetch))
        async for rows in result.mappings().partitions():
            for row in rows:
                entry = AuditEntry.model_validate(dict(row))
                if entry.case_id != current:
                    if current is not None:
                        yield current, verify_chain(entries, keyring)
                    current, entries = entry.case_id, []
                entries.append(entry)
    if current is not None:
        yield current, verify_chain(entries, keyring)
