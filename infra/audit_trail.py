"""Reading the stored audit trail back (for verification and history)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.audit import AuditEntry, ChainReport, verify_chain
from domain.checkpoints import Anchor, anchored
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
    sessions: async_sessionmaker[AsyncSession], keyring: Keyring, anchors: dict[str, Anchor] | None = None, *,
    rows_per_fetch: int = 5_000,
) -> AsyncGenerator[tuple[str, ChainReport], None]:
    """Every case's chain checked from one server-side cursor ordered by (case_id, seq), case by case, each
    against its head in the latest checkpoint (`anchors`, by case id: `infra.checkpoints.latest_anchors`).

    The same verdicts as `stored_entries` + `verify_chain` + `anchored` per case, without a query per case
    (the per-case path spends its time on round trips) and in constant memory: only one case's events are
    held at a time, however large the trail. A case the checkpoint holds but the trail no longer has at all
    is reported last.
    """
    anchors = anchors or {}
    seen: set[str] = set()
    query = select(audit_events).order_by(audit_events.c.case_id, audit_events.c.seq)
    current: str | None = None
    entries: list[AuditEntry] = []
    async with sessions() as session:
        result = await session.stream(query.execution_options(yield_per=rows_per_fetch))
        async for rows in result.mappings().partitions():
            for row in rows:
                entry = AuditEntry.model_construct(**row)  # the columns are the model's, typed by the table
                if entry.case_id != current:
                    if current is not None:
                        seen.add(current)
                        yield current, anchored(verify_chain(entries, keyring), entries, anchors.get(current))
                    current, entries = entry.case_id, []
                entries.append(entry)
    if current is not None:
        seen.add(current)
        yield current, anchored(verify_chain(entries, keyring), entries, anchors.get(current))
    for case_id in sorted(anchors.keys() - seen):
        yield case_id, anchored(ChainReport(valid=True, events=0), [], anchors[case_id])
