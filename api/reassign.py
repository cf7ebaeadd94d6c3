"""Bulk reassignment routes (issue 21): start one, and follow its progress and per-case results."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CurrentActor, ServicesDep, require
from api.examples import problems
from api.people import PersonView
from domain.model import Actor
from domain.reassignment import (
    ReassignmentFilter,
    ReassignmentRequest,
    ReassignmentStatus,
    ReassignOutcome,
)
from domain.team_rules import BULK_REASSIGNERS
from services.reassignment import Progress, progress, start_reassignment

router = APIRouter(prefix="/api/work/reassign", tags=["work"], responses=problems(401, 403, 404, 422, 503))


class CaseResultView(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: str
    reference: str
    outcome: ReassignOutcome | None = Field(description="None: its turn has not come yet")
    detail: str | None = Field(description="Why it was skipped, refused or failed")
    done_at: datetime | None


class ReassignmentView(BaseModel):
    """A bulk reassignment: whose cases (`from`) go to whom (`to`), how far it is, and a page of its cases."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str
    status: ReassignmentStatus
    requested_by: PersonView
    leaving: PersonView = Field(serialization_alias="from")
    taking_over: PersonView = Field(serialization_alias="to")
    filter: ReassignmentFilter
    total: int = Field(description="The open cases that matched when it started (0 until they are listed)")
    done: int = Field(description="Cases whose turn is over (the sum of `counts`)")
    counts: dict[ReassignOutcome, int] = Field(description="Cases done, by outcome")
    created_at: datetime
    finished_at: datetime | None
    results: list[CaseResultView] = Field(description="A page of the cases, in case id order")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page of results (None: the last)")


def _person(actor: Actor) -> PersonView:
    return PersonView(id=actor.id, name=actor.name, role=actor.role, org=actor.org)


def view(found: Progress) -> ReassignmentView:
    job = found.job
    return ReassignmentView(
        id=job.id, status=job.status, requested_by=_person(job.requested_by), leaving=_person(job.leaving),
        taking_over=_person(job.taking_over), filter=job.filter, total=job.total, done=job.done,
        counts=job.counts, created_at=job.created_at, finished_at=job.finished_at,
        results=[CaseResultView(case_id=r.case_id, reference=r.reference, outcome=r.outcome, detail=r.detail,
                                done_at=r.done_at) for r in found.results],
        next_cursor=found.next_cursor,
    )


@router.post("", status_code=202, response_model=ReassignmentView, response_model_by_alias=True,
             summary="Move a person's open cases (those the filter keeps) to a colleague, each by one `reassign`",
             dependencies=[Depends(require(BULK_REASSIGNERS, "{a_role} may not reassign cases in bulk"))])
async def reassign(body: ReassignmentRequest, actor: CurrentActor, services: ServicesDep,
                   response: Response) -> ReassignmentView:
    job = await start_reassignment(services, actor, body)
    response.headers["Location"] = f"/api/work/reassign/{job.id}"
    return view(Progress(job, [], None))


@router.get("/{reassignment_id}", response_model=ReassignmentView, response_model_by_alias=True,
            summary="A bulk reassignment's progress and a page of its per-case results")
async def reassignment(
    reassignment_id: str, actor: CurrentActor, services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=64, description="`next_cursor` of the page before")] = None,
) -> ReassignmentView:
    return view(await progress(services, actor, reassignment_id, cursor, limit))
