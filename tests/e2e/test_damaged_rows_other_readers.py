"""Readers outside domain.stored_rows meet damaged rows too: the audit export (API and console, both formats)
answers 200 with the damaged row as stored (check_export calls it broken), never a 500 nor a line that is no JSON;
an evidence pack of a case whose every event was deleted fails check-pack, as verify calls it broken at event 1; the
figures over every event (the console's dashboard, the service-level report) count around an altered escalation or
time, never a 500."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from infra.evidence_check import check_pack
from tests.helpers.audit_cli import as_table_owner
from tests.helpers.people import AUDITOR
from tests.helpers.scenarios import to_matching
from tests.helpers.tampering import damage
from tests.helpers.team import Team


@pytest.mark.parametrize("column", ["seq", "hash", "payload", "at", "type", "actor", "hash_version"])
async def test_the_export_shows_a_null_column_without_a_500(team: Team, column: str) -> None:
    case = await to_matching(team)
    await damage(team, f"UPDATE audit_events SET {column} = NULL WHERE case_id = :id AND seq = 2", case["id"],
                 loosen=column)
    for url in ("/api/audit/export", "/api/audit/export?format=csv"):
        answer = await team.http.get(url, headers=team.headers(AUDITOR))
        assert answer.status_code == 200, f"{url}: {answer.text[:300]}"
        if "csv" not in url:
            for line in answer.text.splitlines():
                json.loads(line)
    async with team.browser(AUDITOR) as browser:
        assert (await browser.get("/audit/export?format=csv")).status_code == 200


async def test_a_pack_of_a_case_whose_every_event_was_deleted_fails_the_check(team: Team, tmp_path: Path) -> None:
    case = await to_matching(team)
    await damage(team, "DELETE FROM audit_events WHERE case_id = :id", case["id"])
    answer = await team.http.get(f"/api/cases/{case['id']}/evidence", headers=team.headers(AUDITOR))
    assert answer.status_code == 200
    with zipfile.ZipFile(io.BytesIO(answer.content)) as pack:
        assert pack.read("events.jsonl") == b""
    path = tmp_path / "pack.zip"
    path.write_bytes(answer.content)
    problems, _ = check_pack(str(path))
    assert problems and "holds no event" in problems[0], problems


@pytest.mark.parametrize("waiting_on", ["5", '{"sbic": 1}', "[5, null]", '"sbic"'])
async def test_the_dashboard_and_the_report_count_a_damaged_escalation_without_a_500(
        team: Team, waiting_on: str) -> None:
    """The figures read an escalation's `waiting_on` in SQL (the dashboard: jsonb_array_elements_text, which fails on
    anything but an array) and in Python (the report: tuple() of it, which fails on a number): an escalation the owner
    altered made both a 500. Only the organisations it names as text count now; the rest of the figures stand."""
    assert team.engine is not None
    case = await to_matching(team)
    await as_table_owner(team.engine, "UPDATE audit_events SET type = 'escalation', payload = CAST(:payload AS jsonb) "
                         "WHERE case_id = :id AND seq = 2", id=case["id"],
                         payload=f'{{"level": 1, "waiting_on": {waiting_on}}}')
    report = await team.http.get("/api/reports/service-levels", headers=team.headers(AUDITOR))
    assert report.status_code == 200, report.text
    async with team.browser(AUDITOR) as browser:
        dashboard = await browser.get("/dashboard")
    assert dashboard.status_code == 200, dashboard.text[:500]


async def test_the_report_leaves_out_an_event_moved_before_year_1_without_a_500(team: Team) -> None:
    """The report reads each event's time through the driver, which has no datetime before year 1: an event the owner
    moved there (its case still active in the year) made GET /api/reports/service-levels a 500."""
    case = await to_matching(team)
    await damage(team, "UPDATE audit_events SET at = '0044-03-15 12:00:00+00 BC' WHERE case_id = :id AND seq = 2",
                 case["id"])
    report = await team.http.get("/api/reports/service-levels", headers=team.headers(AUDITOR))
    assert report.status_code == 200, report.text
