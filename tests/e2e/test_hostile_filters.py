"""Hostile filters at the operators' and auditors' doors (issues 17, 19, 20) get a 4xx naming the field, never a
5xx; an evidence pack (it carries personal data) is noted in the access log; headcounts beyond what the database
holds are refused at the door instead of failing the matching step for good."""

from __future__ import annotations

import pytest

from tests.helpers.desk import Desk
from tests.helpers.people import ADMIN, APPLICANT, AUDITOR, SBIC, officer
from tests.helpers.scenarios import to_matching


@pytest.mark.parametrize(("who", "path", "params", "field"), [
    # a case id that is no UUID (36 dashes, 36 hex digits) never reaches PostgreSQL's uuid cast
    (ADMIN, "/api/operations/mail", {"case": "-" * 36}, "case"),
    (ADMIN, "/api/operations/mail", {"case": "a" * 36}, "case"),
    # a NUL byte reaches PostgreSQL as text
    (AUDITOR, "/api/audit/access", {"person": "x\x00y"}, "person"),
    # 20 digits are a number, but no bigint
    (AUDITOR, "/api/audit/access", {"cursor": "9223372036854775808"}, "cursor"),
    # a number is no time (pydantic alone would read it as seconds since 1970)
    (AUDITOR, "/api/audit/access", {"since": "1700000000"}, "since"),
    (officer(SBIC), "/api/work", {"due_before": "0.0"}, "due_before"),
    # a parameter the operation does not take
    (AUDITOR, "/api/audit/access", {"persno": "u-1"}, "persno"),
    # a time that does not exist in UTC (year 0, or year 10000)
    (AUDITOR, "/api/audit/access", {"since": "0001-01-01T00:00:00+14:00"}, "since"),
    (AUDITOR, "/api/audit/access", {"until": "9999-12-31T23:59:59-14:00"}, "until"),
    (AUDITOR, "/api/audit/export", {"since": "0001-01-01T00:00:00+14:00"}, "since"),
    (AUDITOR, "/api/audit/export", {"until": "9999-12-31T23:59:59-14:00", "access": "true"}, "until"),
    (officer(SBIC), "/api/work", {"due_before": "9999-12-31T23:59:59-14:00"}, "due_before"),
])
async def test_hostile_query_strings_are_named_4xx_never_5xx(
    desk: Desk, who: object, path: str, params: dict[str, str], field: str
) -> None:
    response = await desk.http.get(path, params=params, headers=desk.headers(who))  # type: ignore[arg-type]
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in response.text


@pytest.mark.parametrize(("who", "path", "field", "value", "said"), [
    (APPLICANT, "/api/cases", "q", "Acme\nGmbH", "U+000A"),
    (APPLICANT, "/api/cases", "q", "Acme\x7f", "U+007F"),
    (APPLICANT, "/api/cases", "q", "a" * 201, "200 characters"),
    (officer(SBIC), "/api/work", "q", "GA-\t1", "U+0009"),
    (officer(SBIC), "/api/smes", "q", "サクラ\x85", "U+0085"),
    (officer(SBIC), "/api/smes", "technology", "sensors\u2028", "U+2028"),
    (officer(SBIC), "/api/smes", "q", "x\x00y", "U+0000"),
])
async def test_a_search_text_is_one_line_without_control_characters_and_bounded(
    desk: Desk, who: object, path: str, field: str, value: str, said: str
) -> None:
    """README "What the doors accept": `q` and `technology` are one line of at most 200 characters without
    control characters; anything else is a 422 naming the parameter and what was refused."""
    response = await desk.http.get(path, params={field: value}, headers=desk.headers(who))  # type: ignore[arg-type]
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [e["loc"] for e in errors] == [["query", field]] and said in errors[0]["msg"], errors
    fine = await desk.http.get(path, params={field: "ａｃｍｅ サクラ"}, headers=desk.headers(who))  # type: ignore[arg-type]
    assert fine.status_code == 200, fine.text


@pytest.mark.parametrize("path", ["/cases", "/work"])
async def test_the_console_refuses_a_search_text_with_control_characters(desk: Desk, path: str) -> None:
    desk.http.cookies.set("casedesk_session", desk.tokens[officer(SBIC)])
    try:
        response = await desk.http.get(path, params={"q": "GA\r\n1"})
    finally:
        desk.http.cookies.clear()
    assert response.status_code == 422 and "U+000D" in response.text, response.text


@pytest.mark.parametrize("params", [{"person": "x\x00y"}, {"cursor": "9" * 30}])
async def test_the_console_access_log_page_refuses_hostile_filters_without_a_5xx(
    desk: Desk, params: dict[str, str]
) -> None:
    desk.http.cookies.set("casedesk_session", desk.tokens[AUDITOR])
    try:
        response = await desk.http.get("/audit/access", params=params)
    finally:
        desk.http.cookies.clear()
    assert response.status_code < 500, response.text


async def test_an_evidence_pack_is_noted_in_the_access_log(desk: Desk) -> None:
    """The pack's events.jsonl carries the filing's contact (`personal`) and timeline.html shows it: the README
    says every time personal data is shown (an export included) one access-log row is added."""
    case = await to_matching(desk)
    pack = await desk.http.get(f"/api/cases/{case['id']}/evidence", headers=desk.headers(AUDITOR))
    assert pack.status_code == 200
    log = await desk.http.get("/api/audit/access", params={"case": case["id"]}, headers=desk.headers(AUDITOR))
    routes = {item["route"] for item in log.json()["items"]}
    assert "GET /api/cases/{case_id}/evidence" in routes, routes


async def test_a_headcount_beyond_int32_is_refused_at_the_door_not_by_a_failing_matching_step(desk: Desk) -> None:
    """`seeking.employees.max` (the applicant's filing) and the officer's `max_employees` are bounded at the door:
    beyond 2,147,483,647 the matching step's int4 parameter would fail for good, and the case could never be
    matched."""
    from domain.samples import sample_filing
    from tests.helpers.people import COORDINATOR, SBIC, officer

    seeking = {**sample_filing()["seeking"], "employees": {"min": 0, "max": 2**31}}
    response = await desk.http.post("/api/cases", json={**sample_filing(), "seeking": seeking},
                                    headers=desk.headers(APPLICANT))
    if response.status_code == 422:  # refused at the door, naming the field: fine
        assert "employees" in response.text
        return
    case = response.json()
    await desk.ok(case, "relay", COORDINATOR, offices=[SBIC])
    await desk.ok(case, "accept_case", officer(SBIC))
    matched = await desk.act(case, "run_matching", officer(SBIC), limit=5)
    assert matched.status_code == 200, matched.text


async def test_an_officer_max_employees_beyond_int32_is_a_named_422(desk: Desk) -> None:
    from tests.helpers.people import SBIC, officer

    case = await to_matching(desk)
    response = await desk.act(case, "run_matching", officer(SBIC), max_employees=2**31)
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert "max_employees" in response.text, response.text
