"""Service-level reports over HTTP (issue 21): who reads which office's figures, as JSON and as Excel-ready CSV.

The figures themselves are checked against hand-computed ones in tests/unit/test_domain_reports.py; here a case
handled now shows in the current fiscal year's report, under the people who handled it.
"""

from __future__ import annotations

import csv
import io

from api.reports import current_fiscal_year
from tests.helpers.people import APPLICANT, AUDITOR, COORDINATOR, SBIC, SJ, manager, officer
from tests.helpers.team import Team

REPORT = "/api/reports/service-levels"


async def test_each_reader_gets_the_figures_they_may_read(team: Team) -> None:
    case = await team.file(APPLICANT)
    await team.ok(case, "relay", COORDINATOR, offices=[SBIC])
    await team.ok(case, "accept_case", officer(SBIC))
    year = current_fiscal_year()

    every = (await team.http.get(f"{REPORT}?fiscal_year={year}", headers=team.headers(COORDINATOR))).json()
    handled = {(s["office"], s["officer"], s["stage"]): s["handled"] for s in every["stages"]}
    assert handled == {("jetro", "Kenji Sato (JETRO)", "screening"): 1, ("sbic", "Officer of sbic", "office_review"): 1}
    assert all(s["median_days"] >= 0 for s in every["stages"])

    own = (await team.http.get(REPORT, headers=team.headers(manager(SBIC)))).json()
    assert own["office"] == SBIC and {s["office"] for s in own["stages"]} == {SBIC}
    assert (await team.http.get(f"{REPORT}?office={SJ}", headers=team.headers(manager(SBIC)))).status_code == 403
    for nobody in (officer(SBIC), APPLICANT):
        assert (await team.http.get(REPORT, headers=team.headers(nobody))).status_code == 403
    assert (await team.http.get(f"{REPORT}?fiscal_year=1999", headers=team.headers(AUDITOR))).status_code == 422
    assert (await team.http.get(f"{REPORT}?fiscal_year={year - 1}", headers=team.headers(AUDITOR))).json()[
        "stages"] == []

    sheet = await team.http.get(f"{REPORT}?fiscal_year={year}&format=csv", headers=team.headers(AUDITOR))
    assert sheet.headers["content-type"].startswith("text/csv") and sheet.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(sheet.content.decode("utf-8-sig"), newline="")))
    assert b"\r\n" in sheet.content
    assert {(r["figure"], r["office"], r["stage"], r["handled"]) for r in rows if r["figure"] == "stage"} == {
        ("stage", "jetro", "screening", "1"), ("stage", "sbic", "office_review", "1")}


async def test_the_console_shows_the_report_as_charts_and_tables(team: Team) -> None:
    case = await team.file(APPLICANT)
    await team.ok(case, "relay", COORDINATOR, offices=[SBIC])
    await team.ok(case, "accept_case", officer(SBIC))
    async with team.browser(COORDINATOR) as jetro, team.browser(manager(SBIC)) as sbic, \
            team.browser(officer(SBIC)) as officer_browser:
        page = (await jetro.get("/reports")).text
        assert page.count('role="img"') == 3 and 'id="report-office"' in page
        assert 'data-stage-row="sbic|office_review|' in page and "format=csv" in page
        own = (await sbic.get("/reports")).text
        assert 'id="report-office"' not in own and "data-stage-row=\"jetro|" not in own
        assert "data-stage-row=\"sbic|office_review|" in own
        assert (await officer_browser.get("/reports")).status_code == 403
