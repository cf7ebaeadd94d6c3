"""Case routes: file, list, read, act, history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse

from api.deps import CurrentActor, ServicesDep, require, require_on_case, route_of
from api.examples import OPENAPI_EXAMPLES, problems
from api.problems import validation_problem
from api.query_params import SearchText, search_query
from domain.chain_verification import ChainReport
from domain.filing import FilingRequest
from domain.model import Action, CaseState, Office, Outcome, Stage
from domain.rules import FILERS, STAFF_AND_AUDITORS
from domain.transitions import applicant_org_of
from domain.views import CaseHistory, CasePage, CaseView, case_view, history_view
from services.access_log import note_cases, note_history
from services.case_desk import CaseDesk
from services.listing import CaseFilters, Sort

router = APIRouter(
    prefix="/api/cases", tags=["cases"], responses=problems(401, 403, 404, 409, 413, 422, 503)
)


async def views_of(request: Request, services: ServicesDep, actor: CurrentActor,
                   *states: CaseState) -> list[dict[str, Any]]:
    """The cases as `actor` may see them (with the candidates whose consent is withdrawn now), noting in the access
    log the personal data they show."""
    withdrawn = await note_cases(services, actor, route_of(request), states)
    return [case_view(state, actor, withdrawn) for state in states]


def as_sent(view: dict[str, Any], status_code: int = 200) -> JSONResponse:
    """A view exactly as `domain.views` built it: the route's `response_model` documents its shape (tests
    validate real answers against it) but does not re-serialize it."""
    return JSONResponse(view, status_code=status_code)


@router.post(
    "",
    status_code=201,
    summary="File a request (applicant, or coordinator on its behalf)",
    response_model=CaseView,
    dependencies=[Depends(require(FILERS, "{a_role} may not file a case"))],
)
async def file_case(
    request: FilingRequest,
    actor: CurrentActor,
    services: ServicesDep,
    http: Request,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    try:
        applicant_org_of(actor, request)
    except ValueError as error:
        raise validation_problem([{"loc": ["body", "on_behalf_of"], "msg": str(error), "type": "value_error"}],
                                 "Invalid filing") from None
    state = await CaseDesk(services).file(actor, request, idempotency_key)
    (view,) = await views_of(http, services, actor, state)
    return as_sent(view, status_code=201)


@router.get("", summary="Cases the caller may see, a page at a time", response_model=CasePage)
async def list_cases(
    actor: CurrentActor,
    services: ServicesDep,
    request: Request,
    stage: Stage | None = None,
    office: Office | None = None,
    outcome: Outcome | None = None,
    overdue: bool | None = None,
    q: Annotated[SearchText | None, search_query("Part of the company name or reference")] = None,
    sort: Annotated[Sort, Query(description="`-created`: newest first; `due`: soonest due first")] = "-created",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500, description="`next_cursor` of the page before")] = None,
) -> JSONResponse:
    filters = CaseFilters(stage, office, outcome, overdue, q, sort, limit, cursor)
    found = await CaseDesk(services).list(actor, filters)
    return as_sent({"items": await views_of(request, services, actor, *found.cases),
                    "damaged": [d.model_dump() for d in found.damaged], "next_cursor": found.next_cursor})


@router.get(
    "/{case_id}",
    summary="One case, with the actions the caller may take now (or as it stood at `as_of`)",
    response_model=CaseView,
)
async def get_case(
    case_id: str,
    actor: CurrentActor,
    services: ServicesDep,
    request: Request,
    as_of: Annotated[
        datetime | None,
        Query(description="An ISO 8601 time with its offset: the case rebuilt from its audit events as it stood then"),
    ] = None,
) -> JSONResponse:
    desk = CaseDesk(services)
    if as_of is None:
        (view,) = await views_of(request, services, actor, await desk.load(case_id, actor))
        return as_sent(view)
    if as_of.tzinfo is None:
        raise validation_problem(
            [{"loc": ["query", "as_of"], "msg": "give the time with its offset, e.g. 2026-03-03T09:00:00+09:00",
              "type": "value_error"}]
        )
    (view,) = await views_of(request, services, actor, await desk.as_of(case_id, actor, as_of))
    return as_sent(view | {"allowed_actions": [], "as_of": as_of.isoformat()})


@router.post("/{case_id}/actions/{action}", summary="Take an action of the case lifecycle", response_model=CaseView)
async def take_action(
    case_id: str,
    action: Annotated[str, Path(description="The action's name (docs/DESIGN.md §3)",
                                json_schema_extra={"enum": [a.value for a in Action]})],
    actor: CurrentActor,
    services: ServicesDep,
    request: Request,
    payload: Annotated[
        dict[str, Any] | None,
        Body(description="The action's payload; see the examples, one per action", openapi_examples=OPENAPI_EXAMPLES),
    ] = None,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    state = await CaseDesk(services).act(case_id, actor, action, payload or {}, idempotency_key)
    (view,) = await views_of(request, services, actor, state)
    return as_sent(view)


@router.get(
    "/{case_id}/history/verify",
    summary="Recompute the case's hash chain: intact, or where it breaks",
    dependencies=[Depends(require_on_case(STAFF_AND_AUDITORS, "verification is for staff and auditors"))],
)
async def verify_history(case_id: str, actor: CurrentActor, services: ServicesDep) -> ChainReport:
    return await CaseDesk(services).verify(case_id, actor)


@router.get("/{case_id}/history", summary="The case's audit events, oldest first", response_model=CaseHistory)
async def history(case_id: str, actor: CurrentActor, services: ServicesDep, request: Request) -> JSONResponse:
    events = history_view(await CaseDesk(services).history(case_id, actor), actor)
    await note_history(services, actor, route_of(request), case_id, events)
    return as_sent({"events": events})
