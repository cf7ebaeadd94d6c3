"""Bulk reassignments as stored (`reassignments`, `reassignment_cases`): the job, its cases and their results.

The cases are listed once, when the job starts (`plan_cases`), so the workflow that works through them holds only
a cursor (the last case id done) and a restarted worker carries on from the rows still without an outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.model import Actor, Stage
from domain.reassignment import (
    Reassignment,
    ReassignmentFilter,
    ReassignmentStatus,
    ReassignOutcome,
)
from infra.tables import cases, reassignment_cases, reassignments
from infra.visibility import visible_to


@dataclass(frozen=True)
class CaseResult:
    """One case of a bulk reassignment: its outcome (None: its turn has not come yet) and why."""

    case_id: str
    reference: str
    outcome: ReassignOutcome | None
    detail: str | None
    done_at: datetime | None


def matching(requester: Actor, leaving_id: str, wanted: ReassignmentFilter) -> list[ColumnElement[bool]]:
    """The open cases assigned to `leaving_id` that the requester may see and the filter keeps."""
    found = [cases.c.stage != Stage.CLOSED, cases.c.assignee_id == leaving_id, visible_to(requester)]
    if wanted.stage is not None:
        found.append(cases.c.stage == wanted.stage)
    if wanted.office is not None:
        found.append(cases.c.offices.contains([str(wanted.office)]))
    if wanted.overdue is not None:
        found.append(cases.c.overdue.is_(wanted.overdue))
    if wanted.due_before is not None:
        found.append(cases.c.due_at < wanted.due_before)
    return found


async def create_reassignment(engine: AsyncEngine, job: Reassignment) -> None:
    row = {
        "id": job.id, "requested_by": job.requested_by.model_dump(mode="json"),
        "leaving": job.leaving.model_dump(mode="json"), "taking_over": job.taking_over.model_dump(mode="json"),
        "org": job.leaving.org, "filter": job.filter.model_dump(mode="json", exclude_none=True),
        "status": job.status, "total": 0, "created_at": job.created_at,
    }
    async with engine.begin() as conn:
        await conn.execute(insert(reassignments).values(row))


async def plan_cases(engine: AsyncEngine, job_id: str) -> int:
    """List the job's cases once (a retry finds them listed) and answer how many there are."""
    async with engine.begin() as conn:
        job = (await conn.execute(select(reassignments).where(reassignments.c.id == job_id).with_for_update())).one()
        if job.status != ReassignmentStatus.PLANNING:
            return int(job.total)
        requester, leaving = Actor.model_validate(job.requested_by), Actor.model_validate(job.leaving)
        job_key = literal(job_id, reassignment_cases.c.reassignment_id.type)
        chosen = select(job_key, cases.c.id, cases.c.reference).where(
            *matching(requester, leaving.id, ReassignmentFilter.model_validate(job.filter)))
        await conn.execute(insert(reassignment_cases).from_select(["reassignment_id", "case_id", "reference"], chosen))
        total = await conn.scalar(select(func.count()).where(reassignment_cases.c.reassignment_id == job_id))
        await conn.execute(update(reassignments).where(reassignments.c.id == job_id)
                           .values(status=ReassignmentStatus.RUNNING, total=total))
    return int(total or 0)


async def pending_cases(engine: AsyncEngine, job_id: str, after: str | None, limit: int) -> list[str]:
    """The next `limit` case ids (in id order, after `after`) whose turn has not come yet."""
    query = select(reassignment_cases.c.case_id).where(
        reassignment_cases.c.reassignment_id == job_id, reassignment_cases.c.outcome.is_(None))
    if after is not None:
        query = query.where(reassignment_cases.c.case_id > after)
    async with engine.connect() as conn:
        return [str(c) for c in (await conn.scalars(query.order_by(reassignment_cases.c.case_id).limit(limit)))]


async def outcome_of(engine: AsyncEngine, job_id: str, case_id: str) -> ReassignOutcome | None:
    async with engine.connect() as conn:
        found = await conn.scalar(select(reassignment_cases.c.outcome).where(
            reassignment_cases.c.reassignment_id == job_id, reassignment_cases.c.case_id == case_id))
    return ReassignOutcome(found) if found else None


async def record_outcome(engine: AsyncEngine, job_id: str, case_id: str, outcome: ReassignOutcome,
                         detail: str | None) -> ReassignOutcome:
    """Keep the case's outcome; the first one recorded stands (a retried step answers what was recorded)."""
    async with engine.begin() as conn:
        await conn.execute(update(reassignment_cases).where(
            reassignment_cases.c.reassignment_id == job_id, reassignment_cases.c.case_id == case_id,
            reassignment_cases.c.outcome.is_(None),
        ).values(outcome=outcome, detail=detail, done_at=datetime.now(UTC)))
    return await outcome_of(engine, job_id, case_id) or outcome


async def finish(engine: AsyncEngine, job_id: str, failure: str | None = None) -> None:
    """The job is done, or (with `failure`) failed; the first end recorded stands."""
    status = ReassignmentStatus.DONE if failure is None else ReassignmentStatus.FAILED
    async with engine.begin() as conn:
        await conn.execute(update(reassignments).where(reassignments.c.id == job_id, reassignments.c.finished_at
                                                       .is_(None)).values(status=status,
                                                                          finished_at=datetime.now(UTC)))


async def reassignment(engine: AsyncEngine, job_id: str) -> Reassignment | None:
    """The job with its counts by outcome; None when there is no such job."""
    async with engine.connect() as conn:
        job = (await conn.execute(select(reassignments).where(reassignments.c.id == job_id))).first()
        if job is None:
            return None
        counted = (await conn.execute(
            select(reassignment_cases.c.outcome, func.count()).where(
                reassignment_cases.c.reassignment_id == job_id, reassignment_cases.c.outcome.is_not(None)
            ).group_by(reassignment_cases.c.outcome))).all()
    return Reassignment(
        id=str(job.id), requested_by=Actor.model_validate(job.requested_by), leaving=Actor.model_validate(job.leaving),
        taking_over=Actor.model_validate(job.taking_over), filter=ReassignmentFilter.model_validate(job.filter),
        status=ReassignmentStatus(job.status), total=job.total,
        counts={ReassignOutcome(outcome): int(n) for outcome, n in counted},
        created_at=job.created_at, finished_at=job.finished_at,
    )


async def results(engine: AsyncEngine, job_id: str, after: str | None, limit: int) -> list[CaseResult]:
    """A page of the job's cases in id order, after the case id `after`."""
    query = select(reassignment_cases).where(reassignment_cases.c.reassignment_id == job_id)
    if after is not None:
        query = query.where(reassignment_cases.c.case_id > after)
    async with engine.connect() as conn:
        rows = (await conn.execute(query.order_by(reassignment_cases.c.case_id).limit(limit))).all()
    return [CaseResult(str(r.case_id), r.reference, ReassignOutcome(r.outcome) if r.outcome else None, r.detail,
                       r.done_at) for r in rows]
