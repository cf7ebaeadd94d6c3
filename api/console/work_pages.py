"""The console's "My work" (issue 21): my open cases, then my queue, by urgency, filtered and a page at a time;
office staff take the next case of their office's queue with one button. Closed cases are under "All cases".

The same service as `GET /api/work` and `GET /api/work/next` answers, so the page shows what the API would.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.console.render import error_page, page
from api.console.session import Viewer, ViewerDep, checked_form, require_viewer, services_of
from api.problems import problem_of
from api.query_params import SearchText, search_query
from domain.calendar import TOKYO
from domain.errors import DeskError
from domain.model import Stage
from domain.rules import OFFICE_STAFF
from services.case_desk import CaseDesk
from services.work import WorkFilters, my_work, take_next

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
OVERDUE = {"yes": True, "no": False}
QueueWorker = Annotated[Viewer, Depends(require_viewer(OFFICE_STAFF, "this page is not for your role"))]
"""Who takes cases from a queue: office officers and managers."""


def day_start(day: str | None) -> datetime | None:
    """The start of a day (`YYYY-MM-DD`) in Tokyo, the scheme's time zone; None for no day or not a day."""
    try:
        return datetime.combine(date.fromisoformat(day), datetime.min.time(), TOKYO) if day else None
    except ValueError:
        return None


@router.get("/work")
async def work(
    request: Request,
    viewer: ViewerDep,
    stage: Annotated[str | None, Query(max_length=40)] = None,
    overdue: Annotated[str | None, Query(max_length=3)] = None,
    due_before: Annotated[str | None, Query(max_length=10)] = None,
    q: Annotated[SearchText | None, search_query("Part of the company name or reference")] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    empty: bool = False,
) -> Response:
    chosen = Stage(stage) if stage is not None and stage in Stage.__members__.values() else None
    chosen = None if chosen == Stage.CLOSED else chosen  # closed cases are never in anyone's work
    before = day_start(due_before)
    q = q or None
    filters = WorkFilters(chosen, OVERDUE.get(overdue or ""), before, q, PAGE_SIZE, cursor or None)
    try:
        found = await my_work(CaseDesk(services_of(request)), viewer.actor, filters)
    except DeskError as error:
        return error_page(request, viewer, problem_of(error))
    return page(request, "work.html", viewer, states=found.cases, damaged=found.damaged,
                next_cursor=found.next_cursor,
                stage=chosen.value if chosen else "", stages=[s for s in Stage if s != Stage.CLOSED],
                overdue=overdue if overdue in OVERDUE else "", q=q or "",
                due_before=before.date().isoformat() if before else "",
                takes_from_queue=viewer.actor.role in OFFICE_STAFF, queue_empty=empty)


@router.post("/work/next")
async def take_next_case(request: Request, viewer: QueueWorker) -> Response:
    """Claim the most urgent unclaimed case of the office's queue and open it (`GET /api/work/next`)."""
    await checked_form(request, viewer)
    try:
        claimed = await take_next(CaseDesk(services_of(request)), viewer.actor)
    except DeskError as error:
        return error_page(request, viewer, problem_of(error))
    if claimed is None:
        return RedirectResponse("/work?empty=true", status_code=303)
    return RedirectResponse(f"/cases/{claimed.id}?done=claim", status_code=303)

