"""The console's bulk reassignment pages (issue 21): a form that moves a person's open cases to a colleague, and the
job's page with a progress bar and each case's result. The same services as `POST /api/work/reassign` and
`GET /api/work/reassign/{id}` answer; who may is `domain.rules` (managers for their office, coordinators for all)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.console.render import error_page, page
from api.console.session import Viewer, checked_form, require_viewer, services_of
from api.problems import problem_of
from domain.errors import DeskError, InvalidInput
from domain.model import JETRO, Office, Role
from domain.reassignment import ReassignmentRequest
from domain.rules import STAFF_AND_AUDITORS
from domain.team_rules import BULK_REASSIGNERS
from services.people import colleagues
from services.reassignment import progress, start_reassignment

router = APIRouter(include_in_schema=False)
Reassigner = Annotated[Viewer, Depends(require_viewer(BULK_REASSIGNERS, "this page is not for your role"))]
Reader = Annotated[Viewer, Depends(require_viewer(STAFF_AND_AUDITORS, "this page is not for your role"))]
ORGS = (*Office, JETRO)
"""The organisations a coordinator may move cases within."""
FILTERS = ("stage", "overdue")


async def _form(request: Request, viewer: Viewer, org: str | None, *, errors: dict[str, list[str]] | None = None,
                typed: dict[str, str] | None = None, status: int = 200) -> Response:
    chosen = org if viewer.actor.role == Role.COORDINATOR and org in ORGS else viewer.actor.org
    services = services_of(request)
    leavers = await colleagues(services, viewer.actor, chosen, revoked_too=True)  # from: who has left too
    people = await colleagues(services, viewer.actor, chosen)
    orgs = ORGS if viewer.actor.role == Role.COORDINATOR else ()
    return page(request, "reassign.html", viewer, status=status, here=f"/reassign?org={chosen}", org=chosen,
                orgs=orgs, choices={"from": leavers, "to": people}, errors=errors or {}, typed=typed or {})


@router.get("/reassign")
async def reassign_form(request: Request, viewer: Reassigner,
                        org: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    return await _form(request, viewer, org)


@router.post("/reassign")
async def reassign(request: Request, viewer: Reassigner) -> Response:
    form = await checked_form(request, viewer)
    typed = {name: str(form.get(name) or "") for name in ("org", "from", "to", *FILTERS)}
    wanted = {name: typed[name] for name in FILTERS if typed[name]}
    try:
        body = ReassignmentRequest.model_validate({"from": typed["from"], "to": typed["to"], "filter": wanted})
        job = await start_reassignment(services_of(request), viewer.actor, body)
    except ValidationError:
        return await _form(request, viewer, typed["org"], errors={"from": [viewer.t("reassign.bad_form")]},
                           typed=typed, status=422)
    except InvalidInput as error:
        errors = {str(e["loc"][-1]): [viewer.t(f"reassign.bad_{e['loc'][-1]}")] for e in error.errors}
        return await _form(request, viewer, typed["org"], errors=errors, typed=typed, status=422)
    except DeskError as error:
        return await _form(request, viewer, typed["org"], errors={"from": [problem_of(error).detail]},
                           typed=typed, status=problem_of(error).status)
    return RedirectResponse(f"/reassign/{job.id}", status_code=303)


@router.get("/reassign/{reassignment_id}")
async def reassignment(request: Request, viewer: Reader, reassignment_id: str,
                       cursor: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    try:
        found = await progress(services_of(request), viewer.actor, reassignment_id, cursor, 100)
    except DeskError as error:
        return error_page(request, viewer, problem_of(error))
    return page(request, "reassign_progress.html", viewer, found=found)
