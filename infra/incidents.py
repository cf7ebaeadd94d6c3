"""Incidents as PostgreSQL keeps them: a step of a workflow that keeps failing, open until it succeeds or an
operator retries it. Written by failing activities themselves (`activities.failures`) and by the scan of
Temporal's pending activities and workflow tasks (`activities.incidents`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.workflow_ids import case_of_workflow
from infra.tables import incidents, scan_turns

SCANNED_KINDS = ("retrying", "workflow_task")
"""Kinds the scan finds (and resolves when Temporal no longer shows them); the others come from activities."""
UNDELIVERED = "undelivered"
"""A signal the worker keeps failing to deliver (`services.consent_courier`): resolved only by its delivery (or an
operator's retry), never because the case's workflow is not running, which may be the very cause."""


INCIDENT_SCAN = "incidents"
TURN_SHARE = 0.9
"""A turn is taken when the last one started at least this share of the interval ago: the worker that took the last
turn, waiting the whole interval after its scan, takes the next one, and the others stand by."""
LONGEST_TURN = timedelta(days=365)
"""A turn never holds longer than this, whatever the interval (INCIDENT_SCAN_SECONDS takes any float, inf included;
a longer span is past timedelta's or PostgreSQL's range)."""
SOONEST_FUTURE = timedelta(minutes=1)
"""A turn that starts further ahead of the asking one than the interval, and at least this, is stale (a damaged row,
a database clock set back): not one that blocks every worker for ever. Never less, so two workers whose
transactions began a moment apart cannot both take the turn."""


async def take_scan_turn(engine: AsyncEngine, every: float, now: datetime | None = None,
                         name: str = INCIDENT_SCAN) -> bool:
    """Whether this worker takes the turn of `name`, a job run every `every` seconds by one worker for all: yes
    unless another took it less than `TURN_SHARE` × `every` ago (one statement, so two workers asking at once
    never both take it). Every worker of a deployment asks; the one that scanned last goes on scanning, and
    another takes over within two intervals once it stops (a turn with no start, or one starting further ahead
    than `SOONEST_FUTURE` and the interval, is stale). `now` defaults to the database's clock, which every
    worker shares whatever its host's says."""
    held = timedelta(seconds=min(every * TURN_SHARE, LONGEST_TURN.total_seconds()))
    turn = insert(scan_turns).values(name=name, started_at=func.now() if now is None else now)
    last, asking = scan_turns.c.started_at, turn.excluded.started_at
    taken = turn.on_conflict_do_update(
        index_elements=[scan_turns.c.name], set_={"started_at": asking},
        where=or_(last.is_(None), last <= asking - held, last > asking + max(held, SOONEST_FUTURE)),
    ).returning(scan_turns.c.name)
    async with engine.begin() as conn:
        return (await conn.execute(taken)).first() is not None


@asynccontextmanager
async def scanning(engine: AsyncEngine, name: str = INCIDENT_SCAN) -> AsyncIterator[bool]:
    """Whether this worker may run `name` now: no while another's run goes on, however long it takes (a scan
    slower than its interval, whose turn another worker may take). A lock held for the block, by a transaction
    of its own, so a worker that dies mid-run or loses its connection lets it go."""
    async with engine.begin() as conn:
        yield bool(await conn.scalar(select(func.pg_try_advisory_xact_lock(func.hashtext(f"scan_turns:{name}")))))


@dataclass(frozen=True)
class Incident:
    """One failing step: `kind` is `permanent` or `transient` (reported by the step), `retrying` (Temporal
    shows the activity still retrying), `workflow_task` (the workflow's own code fails) or `undelivered` (a
    signal the worker keeps failing to deliver)."""

    workflow_id: str
    case_id: str | None
    step: str
    kind: str
    attempts: int
    first_failure_at: datetime
    last_failure_at: datetime
    error: str


async def open_incidents(engine: AsyncEngine, case_id: str | None = None) -> list[Incident]:
    """Open incidents, the most recent failure first."""
    query = select(incidents).where(incidents.c.resolved_at.is_(None)).order_by(incidents.c.last_failure_at.desc())
    if case_id is not None:
        query = query.where(incidents.c.case_id == case_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [Incident(r["workflow_id"], r["case_id"], r["step"], r["kind"], r["attempts"], r["first_failure_at"],
                     r["last_failure_at"], r["error"]) for r in rows]


async def note_failure(engine: AsyncEngine, workflow_id: str, step: str, kind: str, attempts: int,
                       error: str) -> None:
    """A step failed (again): open its incident, or bring the open one up to date and count the failure."""
    now = datetime.now(UTC)
    row = {"id": str(uuid.uuid4()), "workflow_id": workflow_id, "case_id": case_of_workflow(workflow_id), "step": step,
           "kind": kind, "attempts": attempts, "first_failure_at": now, "last_failure_at": now, "error": error}
    statement = insert(incidents).values(row)
    async with engine.begin() as conn:
        await conn.execute(statement.on_conflict_do_update(
            index_elements=[incidents.c.workflow_id, incidents.c.step],
            index_where=incidents.c.resolved_at.is_(None),
            set_={"kind": kind, "attempts": attempts, "last_failure_at": now, "error": error,
                  "failures": incidents.c.failures + 1},
        ))


async def note_recovery(engine: AsyncEngine, workflow_id: str, step: str) -> None:
    """The step succeeded after failing: its open incident is resolved."""
    async with engine.begin() as conn:
        await conn.execute(
            update(incidents)
            .where(incidents.c.workflow_id == workflow_id, incidents.c.step == step, incidents.c.resolved_at.is_(None))
            .values(resolved_at=datetime.now(UTC))
        )


async def keep_scanned(engine: AsyncEngine, found: Iterable[Incident], running: Iterable[str]) -> None:
    """Open or update what a scan found; resolve the scanned incidents Temporal no longer shows, and every
    incident of a workflow that is no longer running (its case has ended)."""
    now = datetime.now(UTC)
    seen = list(found)
    async with engine.begin() as conn:
        for incident in seen:
            row = {"id": str(uuid.uuid4()), "workflow_id": incident.workflow_id, "case_id": incident.case_id,
                   "step": incident.step, "kind": incident.kind, "attempts": incident.attempts,
                   "first_failure_at": incident.first_failure_at, "last_failure_at": incident.last_failure_at,
                   "error": incident.error}
            statement = insert(incidents).values(row)
            await conn.execute(statement.on_conflict_do_update(
                index_elements=[incidents.c.workflow_id, incidents.c.step],
                index_where=incidents.c.resolved_at.is_(None),
                set_={"attempts": func.greatest(incidents.c.attempts, incident.attempts),
                      "last_failure_at": func.greatest(incidents.c.last_failure_at, incident.last_failure_at),
                      "error": incident.error},
            ))
        keys = [(i.workflow_id, i.step) for i in seen]
        stale = update(incidents).where(incidents.c.resolved_at.is_(None), incidents.c.kind.in_(SCANNED_KINDS))
        if keys:
            stale = stale.where(tuple_(incidents.c.workflow_id, incidents.c.step).not_in(keys))
        await conn.execute(stale.values(resolved_at=now))
        live = list(running)
        ended = update(incidents).where(incidents.c.resolved_at.is_(None), incidents.c.case_id.is_not(None),
                                        incidents.c.kind != UNDELIVERED)
        if live:
            ended = ended.where(incidents.c.workflow_id.not_in(live))
        await conn.execute(ended.values(resolved_at=now))


async def resolve_incidents(engine: AsyncEngine, case_id: str) -> int:
    """An operator fixed the cause and retried: the case's open incidents are resolved; how many."""
    async with engine.begin() as conn:
        result = await conn.execute(
            update(incidents).where(incidents.c.case_id == case_id, incidents.c.resolved_at.is_(None))
            .values(resolved_at=datetime.now(UTC))
        )
    return int(result.rowcount or 0)


@dataclass(frozen=True)
class IncidentTally:
    open_by_step: dict[str, int]
    failures: dict[tuple[str, str], int]


async def tally_incidents(engine: AsyncEngine) -> IncidentTally:
    """Open incidents by step, and failures ever recorded by (step, kind) — for `/metrics`."""
    async with engine.connect() as conn:
        open_rows = await conn.execute(
            select(incidents.c.step, func.count()).where(incidents.c.resolved_at.is_(None))
            .group_by(incidents.c.step)
        )
        failure_rows = await conn.execute(
            select(incidents.c.step, incidents.c.kind, func.sum(incidents.c.failures))
            .group_by(incidents.c.step, incidents.c.kind)
        )
        return IncidentTally({step: int(n) for step, n in open_rows},
                             {(step, kind): int(n or 0) for step, kind, n in failure_rows})
