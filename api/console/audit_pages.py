"""Oversight pages: the auditor's view (histories, whether each chain verifies, export links) and the dashboard
(SVG charts drawn on the server). Verification and export are the API's own code, run as the signed-in user."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api import audit_export
from api.audit import access_log
from api.console.case_pages import note_case_page
from api.console.charts import bar_chart
from api.console.render import error_page, page
from api.console.session import Viewer, ViewerDep, require_viewer, services_of
from api.deps import route_of
from api.problems import Problem, problem_of
from domain.errors import DeskError
from domain.rules import AUDITORS, STAFF_AND_AUDITORS
from domain.views import case_view, history_view
from services.case_desk import CaseDesk
from services.listing import CaseFilters
from services.read_model import dashboard_figures

router = APIRouter(include_in_schema=False)
AUDIT_PAGE = 50
ACCESS_PAGE = 100
Auditor = Annotated[Viewer, Depends(require_viewer(AUDITORS, "the audit view is for auditors"))]
Exporter = Annotated[Viewer, Depends(require_viewer(AUDITORS, audit_export.REFUSAL))]
Overseer = Annotated[Viewer, Depends(require_viewer(STAFF_AND_AUDITORS, "the dashboard is for staff and auditors"))]


@router.get("/audit")
async def audit(request: Request, viewer: Auditor, cursor: str | None = None) -> Response:
    """Auditors: the cases, newest first, each with whether its hash chain verifies now."""
    desk = CaseDesk(services_of(request))
    try:
        found = await desk.list(viewer.actor, CaseFilters(limit=AUDIT_PAGE, cursor=cursor))
    except DeskError as error:
        problem = problem_of(error)
        return error_page(request, viewer, problem)
    rows = [(state, await desk.verify(state.id, viewer.actor)) for state in found.cases]
    return page(request, "audit.html", viewer, rows=rows, damaged=found.damaged, next_cursor=found.next_cursor)


@router.get("/audit/access")
async def access(request: Request, viewer: Auditor, case: str | None = None, person: str | None = None,
                 cursor: str | None = None) -> Response:
    """Auditors: the access log (`GET /api/audit/access`), newest first, a page at a time."""
    try:
        found = await access_log(services_of(request), case=case or None, person=person or None,
                                 limit=ACCESS_PAGE, cursor=cursor or None)
    except Problem as problem:
        return error_page(request, viewer, problem)
    return page(request, "access.html", viewer, items=found.items, next_cursor=found.next_cursor, case=case,
                person=person)


@router.get("/cases/{case_id}/audit")
async def case_audit(request: Request, case_id: str, viewer: ViewerDep) -> Response:
    """One case's every event with its hashes, and whether the chain verifies (staff and auditors)."""
    desk = CaseDesk(services_of(request))
    try:
        state = await desk.load(case_id, viewer.actor)
        report = await desk.verify(case_id, viewer.actor)
        events = history_view(await desk.history(case_id, viewer.actor), viewer.actor)
    except DeskError as error:
        problem = problem_of(error)
        return error_page(request, viewer, problem)
    withdrawn = await note_case_page(request, viewer.actor, state, events)
    return page(request, "case_audit.html", viewer, case=case_view(state, viewer.actor, withdrawn), report=report,
                events=events, may_export=viewer.actor.role in AUDITORS)


@router.get("/audit/export")
async def export(
    request: Request, viewer: Exporter, format: str = "jsonl", case: str | None = None, office: str | None = None,
    access: bool = False,
) -> Response:
    """The API's export (`GET /api/audit/export`), for the signed-in auditor: a link in a browser downloads it
    (`access`: with the access log's rows)."""
    try:
        return await audit_export.download(services_of(request), format, None, None, case, office,
                                           seen_by=(viewer.actor, route_of(request)), access=access)
    except Problem as problem:
        return error_page(request, viewer, problem)


@router.get("/dashboard")
async def dashboard(request: Request, viewer: Overseer) -> Response:
    t = viewer.t
    figures = await dashboard_figures(services_of(request), viewer.actor)
    per_stage = [(t.code("stage", stage), float(count)) for stage, count in figures.per_stage]
    medians = [(t.code("stage", stage), days) for stage, days in figures.median_days]
    breaches = [(t.code("org", org), float(count)) for org, count in figures.breaches]
    empty = t("dash.no_data")
    charts = [
        ("per-stage", t("dash.per_stage"), bar_chart("per-stage", t("dash.per_stage"), per_stage, empty=empty),
         per_stage, "col.count"),
        ("median", t("dash.median"), bar_chart("median", t("dash.median"), medians, empty=empty),
         medians, "col.median_days"),
        ("breaches", t("dash.breaches"), bar_chart("breaches", t("dash.breaches"), breaches, empty=empty),
         breaches, "col.count"),
    ]
    return page(request, "dashboard.html", viewer, charts=charts)
