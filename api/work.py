"""Work routes (issue 21): "My work" — the caller's open cases, then their queue, by urgency — and the next case."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse

from api.cases import as_sent
from api.deps import CurrentActor, ServicesDep, require
from api.examples import problems
from api.problems import validation_problem
from api.query_params import QueryTime, SearchText, search_query
from domain.model import Stage
from domain.rules import OFFICE_STAFF
from domain.views import CasePage, CaseView, case_view
from services.case_desk import CaseDesk
from services.work import WorkFilters, my_work, take_next

router = APIRouter(prefix="/api/work", tags=["work"], responses=problems(401, 403, 409, 422, 503))


def aware(due_before: datetime | None) -> datetime | None:
    """A time with its offset, or a 422 naming `due_before`."""
    if due_before is not None and due_before.tzinfo is None:
        raise validation_problem([{"loc": ["query", "due_before"], "type": "value_error",
                                   "msg": "give the time with its offset, e.g. 2026-03-03T09:00:00+09:00"}])
    return due_before


@router.get("", summary="My work: my open cases, then my queue's unclaimed ones, most urgent first",
            response_model=CasePage)
async def list_my_work(
    actor: CurrentActor,
    services: ServicesDep,
    stage: Stage | None = None,
    overdue: bool | None = None,
    due_before: Annotated[QueryTime | None, Query(description="Only cases due before this time (with its offset)")]
    = None,
    q: Annotated[SearchText | None, search_query("Part of the company name or reference")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500, description="`next_cursor` of the page before")] = None,
) -> JSONResponse:
    filters = WorkFilters(stage, overdue, aware(due_before), q, limit, cursor)
    found = await my_work(CaseDesk(services), actor, filters)
    return as_sent({"items": [case_view(s, actor) for s in found.cases],
                    "damaged": [d.model_dump() for d in found.damaged], "next_cursor": found.next_cursor})


@router.get(
    "/next",
    summary="Claim the most urgent unclaimed case of my office's queue (overdue, then soonest due, then oldest)",
    response_model=CaseView,
    responses={204: {"description": "The queue is empty"}},
    dependencies=[Depends(require(OFFICE_STAFF, "only office staff take cases from a queue"))],
)
async def next_case(actor: CurrentActor, services: ServicesDep) -> Response:
    claimed = await take_next(CaseDesk(services), actor)
    if claimed is None:
        return Response(status_code=204)
    return as_sent(case_view(claimed, actor))
