"""Report routes (issue 21): service levels by Japanese fiscal year (April–March), as JSON or CSV."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from api.deps import CurrentActor, ServicesDep, require
from api.examples import problems
from domain.calendar import TOKYO
from domain.reports import ServiceLevelReport
from domain.team_rules import REPORT_READERS
from services.reports import as_csv, service_levels

router = APIRouter(prefix="/api/reports", tags=["reports"], responses=problems(401, 403, 422, 503))


def current_fiscal_year() -> int:
    today = datetime.now(UTC).astimezone(TOKYO)
    return today.year if today.month >= 4 else today.year - 1


@router.get("/service-levels", response_model=ServiceLevelReport,
            summary="Service levels of a Japanese fiscal year (April–March) per office, officer, stage and month",
            responses={200: {"content": {"text/csv": {}}}},
            dependencies=[Depends(require(REPORT_READERS, "{a_role} does not read the service-level reports"))])
async def service_level_report(
    actor: CurrentActor, services: ServicesDep,
    fiscal_year: Annotated[int | None, Query(ge=2000, le=2100, description="FY N runs from 1 April N to 31 March "
                                             "N+1 (default: the current one, Tokyo time)")] = None,
    office: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z0-9_-]+$",
                                        description="Only this organisation (a manager: their own)")] = None,
    format: Annotated[Literal["json", "csv"], Query(description="`csv` opens in Excel")] = "json",
) -> Response:
    year = fiscal_year or current_fiscal_year()
    report = await service_levels(services, actor, year, office)
    if format == "csv":
        return Response(as_csv(report), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="service-levels-fy{year}.csv"'})
    return Response(report.model_dump_json(), media_type="application/json")
