"""The console's conflicts of interest (issue 21): a fund committee member declares one and sees theirs; auditors see
every declaration. The same services as `POST /api/me/conflicts`, `GET /api/me/conflicts` and `GET /api/conflicts`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.console.render import page
from api.console.session import Viewer, checked_form, require_viewer, services_of
from domain.conflicts import ConflictDeclaration
from domain.errors import InvalidInput
from domain.team_rules import CONFLICT_DECLARERS, CONFLICT_READERS
from services.conflicts import MOST_PER_MEMBER, declare, my_conflicts, register

router = APIRouter(include_in_schema=False)
Reader = Annotated[Viewer, Depends(require_viewer(CONFLICT_DECLARERS | CONFLICT_READERS,
                                                  "this page is not for your role"))]


async def _page(request: Request, viewer: Viewer, *, errors: dict[str, list[str]] | None = None,
                typed: dict[str, str] | None = None, status: int = 200) -> Response:
    services = services_of(request)
    declarer = viewer.actor.role in CONFLICT_DECLARERS
    found = await (my_conflicts(services, viewer.actor) if declarer else register(services, viewer.actor))
    return page(request, "conflicts.html", viewer, status=status, here="/conflicts", conflicts=found,
                declarer=declarer, errors=errors or {}, typed=typed or {})


@router.get("/conflicts")
async def conflicts(request: Request, viewer: Reader) -> Response:
    return await _page(request, viewer)


@router.post("/conflicts")
async def declare_conflict(request: Request, viewer: Reader) -> Response:
    form = await checked_form(request, viewer)
    typed = {name: str(form.get(name) or "") for name in ("company", "reason")}
    try:
        body = ConflictDeclaration.model_validate(typed)
    except ValidationError as error:
        errors = {str(e["loc"][0]): [viewer.t(f"conflicts.bad_{e['loc'][0]}")] for e in error.errors()}
        return await _page(request, viewer, errors=errors, typed=typed, status=422)
    try:
        await declare(services_of(request), viewer.actor, body)
    except InvalidInput:  # the member has declared as many as one may (`MOST_PER_MEMBER`)
        errors = {"company": [viewer.t("conflicts.too_many", most=MOST_PER_MEMBER)]}
        return await _page(request, viewer, errors=errors, typed=typed, status=422)
    return RedirectResponse("/conflicts", status_code=303)
