"""Rendering: one Jinja2 environment (autoescaped, strict about undefined names), the navigation each role
gets, and the headers every console page carries (no framing, no inline script, nothing cached)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from api.console.i18n import LANGUAGE_NAMES, Translator, choose_language
from api.console.session import Viewer, services_of
from api.problems import Problem
from domain.model import Role

TEMPLATES = Path(__file__).parent / "templates"
TOKYO = ZoneInfo("Asia/Tokyo")
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

# The pages in each role's navigation, in order: (key of the label, path).
NAVIGATION: dict[Role, tuple[tuple[str, str], ...]] = {
    Role.APPLICANT: (("nav.work", "/work"), ("nav.cases", "/cases"), ("nav.new_case", "/cases/new")),
    Role.COORDINATOR: (("nav.work", "/work"), ("nav.cases", "/cases"), ("nav.new_case", "/cases/new"),
                       ("nav.office", "/late"), ("nav.reassign", "/reassign"), ("nav.reports", "/reports"),
                       ("nav.dashboard", "/dashboard"), ("nav.away", "/away")),
    Role.OFFICE_OFFICER: (("nav.work", "/work"), ("nav.cases", "/cases"), ("nav.dashboard", "/dashboard"),
                          ("nav.away", "/away")),
    Role.OFFICE_MANAGER: (("nav.work", "/work"), ("nav.cases", "/cases"), ("nav.office", "/late"),
                          ("nav.reassign", "/reassign"), ("nav.reports", "/reports"), ("nav.dashboard", "/dashboard"),
                          ("nav.away", "/away")),
    Role.FUND_COMMITTEE: (("nav.work", "/work"), ("nav.cases", "/cases"), ("nav.conflicts", "/conflicts"),
                          ("nav.dashboard", "/dashboard"), ("nav.away", "/away")),
    Role.AUDITOR: (("nav.audit", "/audit"), ("nav.access", "/audit/access"), ("nav.cases", "/cases"),
                   ("nav.reports", "/reports"), ("nav.conflicts", "/conflicts"), ("nav.dashboard", "/dashboard")),
    Role.ADMIN: (("nav.cases", "/cases"), ("nav.incidents", "/incidents"), ("nav.outbox", "/outbox")),
}
HOME: dict[Role, str] = {Role.AUDITOR: "/audit", Role.ADMIN: "/cases"}


def home_of(role: Role) -> str:
    return HOME.get(role, "/work")


def when(value: datetime | str | None) -> str:
    """A time as Tokyo reads it: the scheme runs on Japanese business days."""
    if value is None or value == "":
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    try:
        return moment.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M JST")
    except (OverflowError, ValueError):  # a stored time at the end of the calendar (an altered event): as it is
        return moment.isoformat(timespec="minutes")


def iso(value: datetime | str | None) -> str:
    if value is None or value == "":
        return ""
    return (datetime.fromisoformat(value) if isinstance(value, str) else value).isoformat()


def yen(value: int | None) -> str:
    return "—" if value is None else f"¥{value:,}"


def brief(payload: dict[str, Any], limit: int = 160) -> str:
    """An event's payload in one line: lists of records are counted, long text is cut."""
    parts = []
    for key, value in payload.items():
        if value is None:
            continue
        if isinstance(value, list) and value and isinstance(value[0], dict):
            shown = f"{len(value)}"
        elif isinstance(value, list):
            shown = ", ".join(str(v) for v in value)
        elif isinstance(value, dict):
            shown = ", ".join(f"{k}={v}" for k, v in value.items() if not isinstance(v, dict | list))
        else:
            shown = str(value)
        if shown:
            parts.append(f"{key}: {shown}")
    text = "; ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


environment = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined, trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters.update(when=when, iso=iso, yen=yen, brief=brief, urlquote=lambda s: quote(str(s), safe=""))


def is_development(request: Request) -> bool:
    return services_of(request).settings.environment == "development"


def page(request: Request, template: str, viewer: Viewer | None, *, status: int = 200, here: str | None = None,
         **context: Any) -> HTMLResponse:
    """A whole page: the template inside the base layout, in the viewer's language. `here` is where the
    language switch comes back to (a page answering a POST names the page to show, not the POST's URL)."""
    language = viewer.language if viewer else choose_language(request.cookies.get("lang"), None)
    if here is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        here = here if request.method == "GET" else "/"
    html = environment.get_template(template).render(
        t=Translator(language),
        lang=language,
        languages=LANGUAGE_NAMES,
        viewer=viewer,
        nav=NAVIGATION.get(viewer.actor.role, ()) if viewer else (),
        here=here,
        path=request.url.path,
        development=is_development(request),
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def error_page(request: Request, viewer: Viewer | None, problem: Problem) -> HTMLResponse:
    """A refusal as a page, with the problem's status (404 for a case the viewer may not know exists)."""
    key = {404: "error.not_found", 403: "error.forbidden"}.get(problem.status)
    return page(request, "error.html", viewer, status=problem.status, message_key=key, detail=problem.detail)
