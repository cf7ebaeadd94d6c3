"""The case page (what the viewer may see of a case, and one form per action they may take now), taking an
action from it, and filing a request. Everything goes through `CaseDesk`, like the JSON API."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.console import filing
from api.console.forms import ActionForm, action_forms, parse_form, refused_form
from api.console.render import error_page, page
from api.console.session import Viewer, ViewerDep, checked_form, require_viewer, services_of
from api.deps import route_of
from api.problems import Problem, problem_of
from domain.errors import DeskError, InvalidInput
from domain.filing import FilingRequest
from domain.model import Action, Actor, CaseState
from domain.rules import FILERS, STAFF_AND_AUDITORS
from domain.transitions import applicant_org_of
from domain.views import case_view, history_view
from services.access_log import note_cases, note_history
from services.case_desk import CaseDesk

router = APIRouter(include_in_schema=False)
Filer = Annotated[Viewer, Depends(require_viewer(FILERS, "{a_role} may not file a case"))]
"""The viewer of the filing pages: whoever may file a case, as for `POST /api/cases`."""


def fresh_key() -> str:
    """An Idempotency-Key per rendered form: sending the same form twice applies it once."""
    return uuid.uuid4().hex


async def note_case_page(
    request: Request, actor: Actor, state: CaseState, events: list[dict[str, Any]]
) -> frozenset[str]:
    """Note in the access log what personal data a page of the case and its history shows `actor`; return the
    case's candidates that have withdrawn their consent to be matched since (read in the same statement)."""
    services, route = services_of(request), route_of(request)
    withdrawn = await note_cases(services, actor, route, [state])
    await note_history(services, actor, route, state.id, events)
    return withdrawn


async def case_page(
    request: Request, viewer: Viewer, state: CaseState, *, failed: ActionForm | None = None, status: int = 200
) -> HTMLResponse:
    actor = viewer.actor
    events = history_view(await CaseDesk(services_of(request)).history(state.id, actor), actor)
    view = case_view(state, actor, await note_case_page(request, actor, state, events))
    done = request.query_params.get("done")
    allowed = view["allowed_actions"]
    return page(
        request, "case.html", viewer, status=status, case=view, events=events,
        forms=action_forms(state, actor, allowed, viewer.t, failed),
        stray=failed if failed is not None and failed.action not in allowed else None,
        done=done if done in Action.__members__.values() else None,
        filed=request.query_params.get("filed") == "1",
        may_audit=actor.role in STAFF_AND_AUDITORS, fresh_key=fresh_key, here=f"/cases/{state.id}",
    )


# /cases/new comes before /cases/{case_id}, which would otherwise take "new" for a case id.
@router.get("/cases/new")
async def new_case(request: Request, viewer: Filer, sample: bool = False) -> Response:
    values = filing.sample_values(viewer.actor) if sample else filing.empty_values()
    return page(request, "new_case.html", viewer, groups=filing.groups(viewer.actor, viewer.t), values=values,
                errors={}, problem=None, key=fresh_key())


@router.post("/cases/new")
async def file_case(request: Request, viewer: Filer) -> Response:
    form = await checked_form(request, viewer)
    actor = viewer.actor
    body = filing.parse(form, actor)
    try:
        try:
            filing_request = FilingRequest.model_validate(body)
            applicant_org_of(actor, filing_request)
        except ValidationError as error:
            raise InvalidInput([dict(e) for e in error.errors(include_url=False)], "Invalid filing") from None
        except ValueError as error:
            raise InvalidInput([{"loc": ["on_behalf_of"], "msg": str(error)}], "Invalid filing") from None
        key = str(form.get("idempotency_key") or "") or None
        state = await CaseDesk(services_of(request)).file(actor, filing_request, key)
    except DeskError as error:
        problem = problem_of(error)
        by_field, general = filing.errors_of(problem, viewer.t)
        return page(request, "new_case.html", viewer, status=problem.status if problem.status < 500 else 409,
                    groups=filing.groups(actor, viewer.t), values=filing.typed(form), errors=by_field,
                    problem="; ".join(general) or (None if by_field else problem.detail), key=fresh_key(),
                    here="/cases/new")
    return RedirectResponse(f"/cases/{state.id}?filed=1", status_code=303)


@router.get("/cases/{case_id}")
async def case(request: Request, case_id: str, viewer: ViewerDep) -> Response:
    try:
        state = await CaseDesk(services_of(request)).load(case_id, viewer.actor)
    except DeskError as error:
        problem = problem_of(error)
        return error_page(request, viewer, problem)
    return await case_page(request, viewer, state)


@router.post("/cases/{case_id}/actions/{action}")
async def take_action(request: Request, case_id: str, action: str, viewer: ViewerDep) -> Response:
    """Send the form through `CaseDesk.act`; a refusal re-renders the page with the form as typed and the
    problem beside it (with the problem's 4xx status), so nothing typed is lost."""
    form = await checked_form(request, viewer)
    desk = CaseDesk(services_of(request))
    if action not in Action.__members__.values():
        return error_page(request, viewer, Problem(404, "No such action", f"there is no action {action!r}"))
    chosen = Action(action)
    payload: dict[str, Any] = parse_form(chosen, form)
    try:
        state = await desk.load(case_id, viewer.actor)
    except DeskError as error:
        unseen = problem_of(error)
        return error_page(request, viewer, unseen)
    # The form's Idempotency-Key: sent twice (a double click, a reload), the form is applied once.
    key = str(form.get("idempotency_key") or "") or None
    try:
        await desk.act(case_id, viewer.actor, action, payload, key)
    except DeskError as error:
        problem = problem_of(error)
        try:
            state = await desk.load(case_id, viewer.actor)
        except DeskError as error:
            unseen = problem_of(error)
            return error_page(request, viewer, unseen)
        failed = refused_form(chosen, state, viewer.actor, viewer.t, form, problem)
        return await case_page(request, viewer, state, failed=failed,
                               status=problem.status if 400 <= problem.status < 500 else 409)
    return RedirectResponse(f"/cases/{case_id}?done={action}", status_code=303)
