"""Bulk reassignment (issue 21): start one as a Temporal workflow, and read its progress and per-case results.

Who may is `domain.team_rules.bulk_reassignment_refusal` (403) and `may_read_reassignment` (404 for anyone else: a job
of another office does not leak); what is wrong with the people named is `domain.reassignment.reassignment_problems`
(422, naming the field). The work itself is `workflows.reassignment`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from contracts.reassignment import REASSIGNMENT_WORKFLOW, ReassignmentInput, reassignment_workflow_id
from domain.errors import BadCursor, CaseNotFound, Forbidden, InvalidInput
from domain.model import Actor
from domain.reassignment import Reassignment, ReassignmentRequest, ReassignmentStatus, reassignment_problems
from domain.team_rules import bulk_reassignment_refusal, may_read_reassignment
from infra.reassignments import CaseResult, create_reassignment, reassignment, results
from infra.users import person
from services.context import Services
from services.people import as_actor

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Progress:
    """A bulk reassignment, a page of its cases' results, and the cursor of the next page (None at the end)."""

    job: Reassignment
    results: list[CaseResult]
    next_cursor: str | None


async def _person(services: Services, user_id: str, *, revoked_too: bool = False) -> Actor | None:
    found = await person(services.sessions, user_id, revoked_too=revoked_too)
    return as_actor(found) if found is not None else None


async def start_reassignment(services: Services, actor: Actor, request: ReassignmentRequest) -> Reassignment:
    """Start moving `from`'s matching open cases to `to`; answers the job as it starts (status `planning`)."""
    if (reason := bulk_reassignment_refusal(actor)) is not None:
        raise Forbidden(reason)
    # The one leaving may have left already (revoked): their open cases are still theirs, and must be moved.
    leaving = await _person(services, request.from_id, revoked_too=True)
    taking_over = await _person(services, request.to_id)
    if wrong := reassignment_problems(leaving, taking_over):
        raise InvalidInput([{"loc": ["body", field], "msg": msg, "type": "value_error"} for field, msg in wrong],
                           "Invalid reassignment")
    assert leaving is not None and taking_over is not None
    if (reason := bulk_reassignment_refusal(actor, leaving.org)) is not None:
        raise Forbidden(reason)
    job = Reassignment(id=str(uuid.uuid4()), requested_by=actor, leaving=leaving, taking_over=taking_over,
                       filter=request.filter, status=ReassignmentStatus.PLANNING, total=0,
                       created_at=datetime.now(UTC))
    await create_reassignment(services.engine, job)
    await services.temporal.start_workflow(
        REASSIGNMENT_WORKFLOW, ReassignmentInput(job_id=job.id), id=reassignment_workflow_id(job.id),
        task_queue=services.settings.temporal_task_queue,
    )
    log.info("bulk reassignment started", reassignment=job.id, leaving=leaving.id, taking_over=taking_over.id)
    return job


async def progress(services: Services, actor: Actor, job_id: str, cursor: str | None, limit: int) -> Progress:
    """The job's figures and one page of its cases (in case id order, after `cursor`)."""
    try:
        uuid.UUID(job_id)
    except ValueError:
        raise CaseNotFound("no such bulk reassignment") from None
    if cursor is not None:
        try:
            uuid.UUID(cursor)
        except ValueError:
            raise BadCursor() from None
    job = await reassignment(services.engine, job_id)
    if job is None or not may_read_reassignment(actor, job.leaving.org):
        raise CaseNotFound("no such bulk reassignment")
    page = await results(services.engine, job_id, cursor, limit + 1)
    more = len(page) > limit
    return Progress(job, page[:limit], page[limit - 1].case_id if more else None)
