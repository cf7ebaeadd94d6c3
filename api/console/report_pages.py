"""The console's service-level report (issue 21): the figures of `GET /api/reports/service-levels` for a Japanese
fiscal year, as SVG charts (cases handled per stage, escalations per month, outcomes) and tables, with the CSV."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.console.charts import bar_chart
from api.console.render import error_page, page
from api.console.session import Viewer, require_viewer, services_of
from api.problems import problem_of
from api.reports import current_fiscal_year
from domain.errors import DeskError
from domain.model import FUND, JETRO, Office, Role
from domain.reports import ServiceLevelReport
from domain.team_rules import REPORT_READERS
from services.reports import service_levels

router = APIRouter(include_in_schema=False)
Reader = Annotated[Viewer, Depends(require_viewer(REPORT_READERS, "this page is not for your role"))]
ORGS = (*Office, JETRO, FUND)


def charts(report: ServiceLevelReport, viewer: Viewer) -> list[tuple[str, str, str]]:
    """(id, title, svg) of each chart of the report."""
    t = viewer.t
    handled: Counter[str] = Counter()
    for s in report.stages:
        handled[t.code("stage", s.stage)] += s.handled
    escalations: Counter[str] = Counter()
    for b in report.breaches:
        escalations[b.month] += b.escalations
    outcomes: Counter[str] = Counter()
    for o in report.outcomes:
        outcomes[t.code("outcome", o.outcome)] += o.cases
    shown = [("handled", t("report.handled_chart"), sorted(handled.items())),
             ("escalations", t("report.escalations_chart"), sorted(escalations.items())),
             ("outcomes", t("report.outcomes_chart"), sorted(outcomes.items()))]
    return [(ident, title, bar_chart(f"report-{ident}", title, [(k, float(v)) for k, v in bars],
                                     empty=t("report.none")))
            for ident, title, bars in shown]


@router.get("/reports")
async def report(request: Request, viewer: Reader,
                 fiscal_year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
                 office: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    year = fiscal_year or current_fiscal_year()
    chosen = office if office in ORGS else None
    try:
        found = await service_levels(services_of(request), viewer.actor, year, chosen)
    except DeskError as error:
        return error_page(request, viewer, problem_of(error))
    orgs = () if viewer.actor.role == Role.OFFICE_MANAGER else ORGS
    years = range(current_fiscal_year(), current_fiscal_year() - 5, -1)
    return page(request, "report.html", viewer, report=found, charts=charts(found, viewer), orgs=orgs,
                years=years, office=chosen or "")
