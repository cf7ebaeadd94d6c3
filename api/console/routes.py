"""The web console's pages at `/`: sign-in, my work, case lists, the late cases of an office, dev mail.

Pages are rendered on the server and work without JavaScript. Every read and every action goes through
`CaseDesk`, as the JSON API's do, so the console shows and allows exactly what the API would.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from api.console import (
    audit_pages,
    away_pages,
    case_pages,
    conflict_pages,
    reassign_pages,
    report_pages,
    work_pages,
)
from api.console.i18n import LANG_COOKIE, LANGUAGES
from api.console.render import TEMPLATES, error_page, home_of, is_development, page
from api.console.session import (
    CSRF_FIELD,
    SIGNIN_COOKIE,
    CsrfRefused,
    PageRefused,
    SignInRequired,
    Viewer,
    ViewerDep,
    checked_form,
    current_viewer,
    end_session,
    keep_signin_nonce,
    pepper_of,
    require_viewer,
    safe_next,
    same,
    services_of,
    signin_csrf_token,
    signin_nonce,
    start_session,
)
from api.problems import Problem, problem_of
from api.query_params import SearchText, search_query
from domain.errors import DeskError
from domain.model import Office, Role, Stage
from domain.rules import CASE_MANAGERS, MAIL_SINK_READERS, OPERATORS
from infra.mail_sink import kept_messages
from infra.settings import DEV_PEPPER
from infra.users import DEMO_USERS, actor_for_token, demo_token, email_of
from services import mail_outbox
from services.case_desk import CaseDesk
from services.incidents import open_incidents
from services.listing import CaseFilters
from services.mail_outbox import Status

router = APIRouter(include_in_schema=False)
STATIC = TEMPLATES.parent / "static"
STATIC_NAME = re.compile(r"^[a-z0-9_-]+\.(css|js|svg)$")
PAGE_SIZE = 50
CaseManager = Annotated[Viewer, Depends(require_viewer(CASE_MANAGERS, "this page is not for your role"))]
"""The viewer of the late cases: an office manager (their office's) or a coordinator (every office's)."""
Operator = Annotated[Viewer, Depends(require_viewer(OPERATORS, "this page is not for your role"))]
"""The viewer of the incidents: an admin."""


def install(app: FastAPI) -> None:
    """Add the console to the app: its pages, and how a missing session or CSRF token is answered."""
    app.include_router(router)

    @app.exception_handler(SignInRequired)
    async def to_sign_in(_: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(f"/signin?next={quote(exc.next_path, safe='')}", status_code=303)

    @app.exception_handler(CsrfRefused)
    async def refuse(request: Request, _: CsrfRefused) -> Response:
        return page(request, "error.html", None, status=403, message_key="csrf.refused")

    @app.exception_handler(PageRefused)
    async def not_for_this_role(request: Request, exc: PageRefused) -> Response:
        return error_page(request, exc.viewer, exc.problem)


@router.get("/")
async def home(request: Request) -> Response:
    try:
        viewer = await current_viewer(request)
    except SignInRequired:
        return RedirectResponse("/signin", status_code=303)
    return RedirectResponse(home_of(viewer.actor.role), status_code=303)


def _demo_people(request: Request) -> list[tuple[str, str, str]]:
    """(role, org, token) of the demo users, offered only where their tokens are no secret anyway: in
    development with the development pepper, which anyone can read in the source."""
    if not is_development(request) or pepper_of(request) != DEV_PEPPER:
        return []
    return [(str(u.role), u.org, demo_token(u, DEV_PEPPER)) for u in DEMO_USERS]


def _signin_page(request: Request, *, next_path: str, error: bool = False) -> HTMLResponse:
    nonce = signin_nonce(request)
    response = page(request, "signin.html", None, status=401 if error else 200,
                    here=f"/signin?next={quote(safe_next(next_path), safe='')}",
                    next_path=safe_next(next_path),
                    signin_csrf=signin_csrf_token(pepper_of(request), nonce), error=error,
                    demo=_demo_people(request))
    keep_signin_nonce(response, request, nonce)
    return response


@router.get("/signin")
async def signin_form(request: Request, next: str = "/") -> Response:
    return _signin_page(request, next_path=next)


@router.post("/signin")
async def signin(request: Request) -> Response:
    form = await request.form()
    nonce = request.cookies.get(SIGNIN_COOKIE)
    if not nonce or not same(form.get(CSRF_FIELD), signin_csrf_token(pepper_of(request), nonce)):
        raise CsrfRefused()
    token = str(form.get("token") or "").strip()
    services = services_of(request)
    actor = await actor_for_token(services.lone_statements, token, pepper_of(request)) if token else None
    if actor is None:
        return _signin_page(request, next_path=str(form.get("next") or "/"), error=True)
    wanted = safe_next(form.get("next"))
    response = RedirectResponse(home_of(actor.role) if wanted == "/" else wanted, status_code=303)
    start_session(response, request, token)
    return response


@router.post("/signout")
async def signout(request: Request, viewer: ViewerDep) -> Response:
    await checked_form(request, viewer)
    response = RedirectResponse("/signin", status_code=303)
    end_session(response, request)
    return response


@router.get("/lang/{code}")
async def switch_language(request: Request, code: str, next: str = "/") -> Response:
    if code not in LANGUAGES:
        return error_page(request, None, Problem(404, "Not found", f"no language {code!r}"))
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(LANG_COOKIE, code, max_age=365 * 86_400, httponly=True, samesite="lax", path="/",
                        secure=request.url.scheme == "https")
    return response


@router.get("/static/{name}")
async def static(name: str) -> Response:
    path = STATIC / name
    if not STATIC_NAME.fullmatch(name) or not path.is_file():
        return Response(status_code=404)
    return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})


@router.get("/cases")
async def cases(
    request: Request,
    viewer: ViewerDep,
    q: Annotated[SearchText | None, search_query("Part of the company name or reference")] = None,
    stage: str | None = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    chosen = Stage(stage) if stage is not None and stage in Stage.__members__.values() else None
    filters = CaseFilters(stage=chosen, q=q or None, cursor=cursor or None,
                          limit=PAGE_SIZE)
    try:
        found = await CaseDesk(services_of(request)).list(viewer.actor, filters)
    except DeskError as error:
        problem = problem_of(error)
        return error_page(request, viewer, problem)
    return page(request, "cases.html", viewer, states=found.cases, damaged=found.damaged,
                next_cursor=found.next_cursor, q=q or "", stage=chosen.value if chosen else "", stages=list(Stage))


@router.get("/incidents")
async def incidents_page(request: Request, viewer: Operator) -> Response:
    """Operators: the steps of cases that keep failing (`GET /api/operations/incidents`)."""
    found = await open_incidents(services_of(request).engine)
    return page(request, "incidents.html", viewer, incidents=found)


@router.get("/outbox")
async def outbox_page(request: Request, viewer: Operator, status: str = "undeliverable") -> Response:
    """Operators: the outbox by status, undeliverable first (`GET /api/operations/mail`)."""
    chosen = Status(status) if status in Status.__members__.values() else None
    found = await mail_outbox.messages(services_of(request).engine, chosen, limit=200)
    return page(request, "outbox.html", viewer, messages=found, chosen=chosen.value if chosen else "",
                statuses=[s.value for s in Status])


@router.get("/late")
async def late(request: Request, viewer: CaseManager) -> Response:
    """The manager's view: overdue (and so escalated) open cases of their office; JETRO sees every office's."""
    actor = viewer.actor
    office = Office(actor.org) if actor.role == Role.OFFICE_MANAGER else None
    found = await CaseDesk(services_of(request)).list(
        actor, CaseFilters(office=office, overdue=True, sort="due", limit=200)
    )
    return page(request, "late.html", viewer, states=[s for s in found.cases if s.stage != Stage.CLOSED],
                damaged=found.damaged)


@router.get("/mail")
async def mail(request: Request, viewer: ViewerDep) -> Response:
    """In development only: what the local mail sink of `alliance run` kept — for an admin every message, for
    anyone else only those addressed to them (issue 17 item 6, issue 19 seen 3)."""
    if not is_development(request):
        return error_page(request, viewer, Problem(404, "Not found", "no such page"))
    services = services_of(request)
    messages = kept_messages(services.settings.mail_dir)
    if viewer.actor.role not in MAIL_SINK_READERS:
        address = await email_of(services.sessions, viewer.actor.id)
        messages = [message for message in messages if message.is_addressed_to(address)]
    return page(request, "mail.html", viewer, messages=list(reversed(messages)))


router.include_router(case_pages.router)
router.include_router(work_pages.router)
router.include_router(away_pages.router)
router.include_router(reassign_pages.router)
router.include_router(report_pages.router)
router.include_router(conflict_pages.router)
router.include_router(audit_pages.router)
