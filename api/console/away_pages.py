"""The console's "Away" page (issue 21): who stands in for me while I am away, set and cancelled with a form, and
whom I stand in for now. The same services as `PUT`/`DELETE /api/me/delegation` and `GET /api/me` answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.console.render import page
from api.console.session import Viewer, checked_form, require_viewer, services_of
from api.problems import problem_of
from domain.calendar import TOKYO
from domain.delegation import DelegationRequest
from domain.errors import DeskError, InvalidInput
from domain.rules import DELEGATORS
from services.people import cancel_delegation, colleagues, delegate, who_am_i

router = APIRouter(include_in_schema=False)
Delegator = Annotated[Viewer, Depends(require_viewer(DELEGATORS, "this page is not for your role"))]
"""Who may name a stand-in: staff."""


def tokyo_time(value: object) -> str:
    """A `datetime-local` field's value (Tokyo time, the scheme's) as an ISO time with its offset, or as typed."""
    typed = str(value or "")
    try:
        return datetime.fromisoformat(typed).replace(tzinfo=TOKYO).isoformat()
    except ValueError:
        return typed


async def _page(request: Request, viewer: Viewer, *, errors: dict[str, list[str]] | None = None,
                typed: dict[str, str] | None = None, status: int = 200) -> Response:
    services = services_of(request)
    me = await who_am_i(services, viewer.actor)
    people = [p for p in await colleagues(services, viewer.actor, None) if p.id != viewer.actor.id]
    return page(request, "away.html", viewer, status=status, here="/away", me=me, people=people,
                errors=errors or {}, typed=typed or {})


@router.get("/away")
async def away(request: Request, viewer: Delegator) -> Response:
    return await _page(request, viewer)


@router.post("/away")
async def set_away(request: Request, viewer: Delegator) -> Response:
    form = await checked_form(request, viewer)
    typed = {name: str(form.get(name) or "") for name in ("delegate", "from", "until")}
    try:
        body = DelegationRequest.model_validate({"delegate": typed["delegate"], "from": tokyo_time(typed["from"]),
                                                 "until": tokyo_time(typed["until"])})
        await delegate(services_of(request), viewer.actor, body)
    except ValidationError as error:
        errors = {str(e["loc"][0]): [viewer.t("away.bad_time")] for e in error.errors()}
        return await _page(request, viewer, errors=errors, typed=typed, status=422)
    except InvalidInput as error:
        errors = {str(e["loc"][-1]): [viewer.t(f"away.bad_{e['loc'][-1]}")] for e in error.errors}
        return await _page(request, viewer, errors=errors, typed=typed, status=422)
    except DeskError as error:
        return await _page(request, viewer, errors={"delegate": [problem_of(error).detail]}, typed=typed,
                           status=problem_of(error).status)
    return RedirectResponse("/away", status_code=303)


@router.post("/away/cancel")
async def cancel_away(request: Request, viewer: Delegator) -> Response:
    await checked_form(request, viewer)
    await cancel_delegation(services_of(request), viewer.actor)
    return RedirectResponse("/away", status_code=303)
