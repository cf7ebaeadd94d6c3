"""Service-level reports by Japanese fiscal year (issue 21), as JSON or as a CSV that opens in Excel.

Who reads which office's figures is `domain.team_rules.report_refusal` / `report_scope`; the figures are
`domain.reports.build_report` over the audit trail (`infra.reports`).
"""

from __future__ import annotations

import codecs
import csv
import io

from domain.errors import Forbidden
from domain.model import Actor
from domain.reports import CSV_COLUMNS, ServiceLevelReport, build_report, csv_rows, fiscal_year_bounds
from domain.team_rules import report_refusal, report_scope
from infra.reports import open_past_due, report_events
from services.context import Services


async def service_levels(services: Services, actor: Actor, year: int, office: str | None) -> ServiceLevelReport:
    if (reason := report_refusal(actor.principal, office) or report_refusal(actor, office)) is not None:
        raise Forbidden(reason)
    start, end = fiscal_year_bounds(year)
    events = await report_events(services.engine, start, end)
    return build_report(year, report_scope(actor.principal, office), events, await open_past_due(services.engine))


def as_csv(report: ServiceLevelReport) -> bytes:
    """UTF-8 with a byte-order mark and CRLF line ends, so Excel (in Japan too) opens it as it is."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_rows(report))
    return codecs.BOM_UTF8 + text.getvalue().encode()
