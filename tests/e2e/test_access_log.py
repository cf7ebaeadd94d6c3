"""Issue 19, build 3: every time personal data is shown to someone it is in the access log, which auditors read
(`GET /api/audit/access`); the log is append-only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers.desk import Desk
from tests.helpers.people import APPLICANT, AUDITOR, COORDINATOR, SBIC, Person, officer
from tests.helpers.scenarios import to_matching


async def accesses(desk: Desk, **params: str) -> list[dict[str, Any]]:
    response = await desk.http.get("/api/audit/access", params=params, headers=desk.headers(AUDITOR))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def seen(items: list[dict[str, Any]], name: str, route: str) -> list[dict[str, Any]]:
    return [i for i in items if i["person_name"] == name and i["route"] == route]


async def test_an_officer_opening_a_case_is_in_the_access_log_for_auditors_at_once(desk: Desk) -> None:
    case = await to_matching(desk)
    before = datetime.now(UTC) - timedelta(seconds=1)
    assert (await desk.get(case, officer(SBIC))).status_code == 200
    items = await accesses(desk, case=case["id"], since=before.isoformat())
    (opened,) = seen(items, "Officer of sbic", "GET /api/cases/{case_id}")
    assert (opened["role"], opened["org"], opened["case_id"]) == ("office_officer", "sbic", case["id"])
    assert opened["fields"] == ["request.contact"] and opened["sme_ids"] == []
    assert before <= datetime.fromisoformat(opened["at"]) <= datetime.now(UTC)
    assert seen(await accesses(desk, person=opened["person_id"], case=case["id"]), "Officer of sbic",
                "GET /api/cases/{case_id}") == [opened]
    earlier = await accesses(desk, case=case["id"], until=before.isoformat())
    assert opened not in earlier and all(datetime.fromisoformat(i["at"]) < before for i in earlier)
    first_page = await desk.http.get("/api/audit/access", params={"case": case["id"], "limit": 1},
                                     headers=desk.headers(AUDITOR))
    cursor = first_page.json()["next_cursor"]
    assert first_page.json()["items"] == [opened] and cursor == str(opened["id"])
    assert opened not in await accesses(desk, case=case["id"], cursor=cursor)


async def test_history_lists_the_console_and_the_export_are_noted_with_the_smes_they_identify(desk: Desk) -> None:
    case = await to_matching(desk)
    matched = await desk.ok(case, "run_matching", officer(SBIC), limit=5)
    first, second = (c["sme_id"] for c in matched["candidates"][:2])
    await desk.ok(case, "shortlist", officer(SBIC), sme_ids=[first, second])
    await desk.ok(case, "record_response", officer(SBIC), sme_id=first, interested=True)
    await desk.get(case, APPLICANT)
    await desk.history(case, COORDINATOR)
    listed = await desk.http.get("/api/cases", params={"q": case["reference"]}, headers=desk.headers(COORDINATOR))
    assert listed.status_code == 200
    desk.http.cookies.set("casedesk_session", desk.tokens[COORDINATOR])
    try:
        assert (await desk.http.get(f"/cases/{case['id']}")).status_code == 200
    finally:
        desk.http.cookies.clear()
    export = await desk.http.get("/api/audit/export", params={"case": case["id"]}, headers=desk.headers(AUDITOR))
    assert export.status_code == 200

    items = await accesses(desk, case=case["id"])
    (applicant,) = seen(items, "Anna Schmidt (Acme GmbH)", "GET /api/cases/{case_id}")
    assert applicant["sme_ids"] == [first]  # the uninterested SME is an alias to the applicant: not identified
    assert applicant["fields"] == ["request.contact", "candidates.sme_id"]
    coordinator = "Kenji Sato (JETRO)"
    assert seen(items, coordinator, "GET /api/cases/{case_id}/history")[0]["fields"] == ["request.contact"]
    assert seen(items, coordinator, "GET /api/cases")[0]["sme_ids"] == [c["sme_id"] for c in matched["candidates"]]
    assert seen(items, coordinator, "GET /cases/{case_id}")
    assert seen(items, "Aiko Mori (Auditor)", "GET /api/audit/export")
    actions = seen(items, "Officer of sbic", "POST /api/cases/{case_id}/actions/{action}")
    assert len(actions) >= 3  # each answer shows the case again


@pytest.mark.parametrize("person", [COORDINATOR, officer(SBIC), APPLICANT])
async def test_only_auditors_read_the_access_log(desk: Desk, person: Person) -> None:
    response = await desk.http.get("/api/audit/access", headers=desk.headers(person))
    assert response.status_code == 403 and "auditors may" in response.json()["detail"]


@pytest.mark.parametrize(("name", "value"), [("case", "not-a-case"), ("since", "2026-03-03T09:00:00"),
                                             ("limit", "0"), ("cursor", "x")])
async def test_bad_filters_are_named(desk: Desk, name: str, value: str) -> None:
    response = await desk.http.get("/api/audit/access", params={name: value}, headers=desk.headers(AUDITOR))
    assert response.status_code == 422 and name in response.json()["detail"], response.text


async def test_the_access_log_is_append_only(desk: Desk, engine: AsyncEngine) -> None:
    await desk.get(await desk.file(APPLICANT), COORDINATOR)
    for statement in ("UPDATE access_log SET person_name = 'someone else'", "DELETE FROM access_log",
                      "TRUNCATE access_log"):
        with pytest.raises(DBAPIError, match="access_log is append-only"):
            async with engine.begin() as conn:
                await conn.execute(text(statement))


async def test_the_console_shows_auditors_the_access_log(desk: Desk) -> None:
    case = await desk.file(APPLICANT)
    await desk.get(case, COORDINATOR)
    for person, status in [(AUDITOR, 200), (COORDINATOR, 403)]:
        desk.http.cookies.set("casedesk_session", desk.tokens[person])
        try:
            page = await desk.http.get("/audit/access", params={"case": case["id"]})
        finally:
            desk.http.cookies.clear()
        assert page.status_code == status
        assert ("Kenji Sato (JETRO)" in page.text and "GET /api/cases/{case_id}" in page.text) is (status == 200)
