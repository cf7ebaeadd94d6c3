"""The withdrawals of consent still to tell their cases (`consent_tellings`): written in the transaction that
withdraws the consent, claimed one at a time by the worker's courier (`services.consent_courier`), marked done once
the case's workflow has the signal, or once there is nothing to tell (the case closed, or unknown)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, any_, bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from infra.tables import cases, consent_tellings


class Outcome(StrEnum):
    TOLD = "told"  # the case's workflow has the signal (and records the event once)
    CLOSED = "closed"  # the case closed before it could be told: it takes no further step anyway
    UNKNOWN = "unknown"  # no such case (e.g. erased): nobody to tell


@dataclass(frozen=True)
class Telling:
    id: str
    case_id: str
    sme_id: str
    withdrawn_at: datetime
    attempts: int


_OPEN_CASES_WITH = text(
    "SELECT DISTINCT c.id::text AS case_id, candidate->>'sme_id' AS sme_id "
    "FROM cases c, jsonb_array_elements(CASE WHEN jsonb_typeof(c.snapshot->'candidates') = 'array' "
    "THEN c.snapshot->'candidates' END) AS candidate "
    "WHERE c.stage <> 'closed' AND candidate->>'sme_id' = ANY(:wanted) ORDER BY 1, 2"
)
"""The open cases with one of the SMEs `wanted` among their candidates, and that SME; a record whose `candidates`
is no list (its owner altered it: that case answers 409 and records nothing) is not searched, so it never fails an
import."""


async def write_tellings(conn: AsyncConnection, withdrawn: list[str], at: datetime) -> list[str]:
    """In the caller's transaction: one row to tell per open case that has one of the `withdrawn` SMEs among its
    candidates, and that SME; due at once. Their ids."""
    if not withdrawn:
        return []
    found = (await conn.execute(_OPEN_CASES_WITH.bindparams(wanted=sorted(set(withdrawn))))).all()
    rows = [{"id": str(uuid.uuid4()), "case_id": case_id, "sme_id": sme_id, "withdrawn_at": at,
             "next_attempt_at": at} for case_id, sme_id in found]
    if rows:  # as executemany, sent in batches: one VALUES list would pass 32,767 parameters past 6,553 rows
        await conn.execute(consent_tellings.insert(), rows)
    return [row["id"] for row in rows]


def _among(ids: list[str]) -> ColumnElement[bool]:
    """The tellings whose id is one of `ids`, sent as one array parameter: an import may leave thousands to tell,
    and an IN list of that many parameters, built again at each claim, cost the import quadratic time (and fails
    past 32,767)."""
    return consent_tellings.c.id == any_(bindparam("ids", ids, type_=ARRAY(UUID(as_uuid=False))))


async def claim_due(conn: AsyncConnection, now: datetime, ids: list[str] | None = None) -> Telling | None:
    """The telling due longest ago (of `ids` only, when given), locked until the caller's transaction ends;
    None when none is due. Others telling at once skip it."""
    query = (select(consent_tellings).where(consent_tellings.c.done_at.is_(None),
                                            consent_tellings.c.next_attempt_at <= now)
             .order_by(consent_tellings.c.next_attempt_at).limit(1).with_for_update(skip_locked=True))
    if ids is not None:
        query = query.where(_among(ids))
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        return None
    return Telling(row["id"], row["case_id"], row["sme_id"], row["withdrawn_at"], row["attempts"])


async def mark_done(conn: AsyncConnection, telling: Telling, now: datetime, outcome: Outcome) -> None:
    await conn.execute(update(consent_tellings).where(consent_tellings.c.id == telling.id)
                       .values(done_at=now, outcome=outcome, attempts=telling.attempts + 1))


async def mark_failed(conn: AsyncConnection, telling: Telling, error: str, next_attempt_at: datetime) -> None:
    await conn.execute(update(consent_tellings).where(consent_tellings.c.id == telling.id)
                       .values(attempts=telling.attempts + 1, last_error=error[:500], next_attempt_at=next_attempt_at))


async def case_is_open(conn: AsyncConnection, case_id: str) -> bool | None:
    """Whether the case is open (its read model's stage); None when there is no such case."""
    stage = (await conn.execute(select(cases.c.stage).where(cases.c.id == case_id))).scalar()
    return None if stage is None else stage != "closed"


async def make_due(engine: AsyncEngine, case_id: str, now: datetime) -> int:
    """An operator fixed the cause: the case's untold withdrawals are due now. How many."""
    async with engine.begin() as conn:
        result = await conn.execute(
            update(consent_tellings)
            .where(consent_tellings.c.case_id == case_id, consent_tellings.c.done_at.is_(None))
            .values(next_attempt_at=now)
        )
    return int(result.rowcount or 0)


async def purge_done(engine: AsyncEngine, before: datetime) -> int:
    """Delete the tellings done before `before`; how many. `infra.retention.archive_closed_cases` passes the cutoff
    RETENTION_YEARS puts on closed cases, the period after which the access log's rows go too: a done telling is only
    a delivery note (what the case was told is its own audit event). A telling not done stays however old: its case
    is still to be told."""
    async with engine.begin() as conn:
        deleted = await conn.execute(delete(consent_tellings).where(consent_tellings.c.done_at < before))
    return int(deleted.rowcount or 0)


async def untold(engine: AsyncEngine, ids: list[str] | None = None, *, case_id: str | None = None) -> int:
    """How many withdrawals are still to tell (of `ids` only, of the case `case_id` only, when given)."""
    query = select(func.count()).select_from(consent_tellings).where(consent_tellings.c.done_at.is_(None))
    if ids is not None:
        query = query.where(_among(ids))
    if case_id is not None:
        query = query.where(consent_tellings.c.case_id == case_id)
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())
