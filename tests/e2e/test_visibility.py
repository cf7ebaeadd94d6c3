"""Who sees which case: the list (SQL) and the single case (domain rule) always agree."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from domain.model import Office, Role
from tests.helpers.desk import Desk
from tests.helpers.people import ADMIN, APPLICANT, AUDITOR, COORDINATOR, FUND_MEMBER, SBIC, SJ, manager, officer
from tests.helpers.scenarios import to_investment_decision, to_matching

EVERYONE = [APPLICANT, COORDINATOR, FUND_MEMBER, AUDITOR, ADMIN,
            *(officer(o) for o in Office), *(manager(o) for o in Office)]


async def test_lists_show_exactly_the_cases_each_person_may_open(desk: Desk) -> None:
    screening = await desk.file(APPLICANT)
    other_company = await desk.file(COORDINATOR, company="Globex SA", on_behalf_of="globex-sa")
    matching = await to_matching(desk)
    deciding = await to_investment_decision(desk)
    ours = {c["id"] for c in (screening, other_company, matching, deciding)}

    expected: dict[tuple[Role, str], set[str]] = {
        APPLICANT: {screening["id"], matching["id"], deciding["id"]},
        COORDINATOR: ours, AUDITOR: ours, ADMIN: set(),
        FUND_MEMBER: {deciding["id"]},
        **{p: {matching["id"], deciding["id"]} for o in (SJ, SBIC) for p in (officer(o), manager(o))},
        **{p: set() for p in (officer(Office.SHOKO_CHUKIN_BANK), manager(Office.SHOKO_CHUKIN_BANK))},
    }
    for person in EVERYONE:
        response = await desk.http.get("/api/cases?limit=200", headers=desk.headers(person))
        assert response.status_code == 200
        listed = {c["id"] for c in response.json()["items"]} & ours
        assert listed == expected[person], person
        for case_id in ours:
            opened = await desk.get(case_id, person)
            assert opened.status_code == (200 if case_id in expected[person] else 404), (person, case_id)


async def test_applicants_never_see_internal_matters(desk: Desk) -> None:
    case = await to_investment_decision(desk)
    await desk.ok(case, "add_note", officer(SBIC), text="CFO seemed hesitant")
    seen: dict[str, Any] = (await desk.get(case, APPLICANT)).json()
    assert "notes" not in seen
    assert all(c["score"] is None and c["factors"] == {} for c in seen["candidates"])
    assert seen["proposal"]["rationale"] is None
    staff: dict[str, Any] = (await desk.get(case, COORDINATOR)).json()
    assert staff["notes"][0]["text"] == "CFO seemed hesitant" and staff["candidates"][0]["score"] > 0


async def test_filters_search_and_cursor_pages_are_stable(desk: Desk) -> None:
    marker = f"Pager {uuid.uuid4().hex[:6]}"
    filed = [await desk.file(COORDINATOR, company=f"{marker} {n}", on_behalf_of="pager-co") for n in range(7)]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        query = f"/api/cases?q={marker}&limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = (await desk.http.get(query, headers=desk.headers(COORDINATOR))).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [c["id"] for c in reversed(filed)]  # newest first, each exactly once

    by_reference = (await desk.http.get(f"/api/cases?q={filed[2]['reference'].lower()}",
                                        headers=desk.headers(COORDINATOR))).json()["items"]
    assert [c["id"] for c in by_reference] == [filed[2]["id"]]
    await desk.ok(filed[0], "relay", COORDINATOR, offices=[SBIC])
    in_review = (await desk.http.get(f"/api/cases?q={marker}&stage=office_review&office={SBIC}",
                                     headers=desk.headers(COORDINATOR))).json()["items"]
    assert [c["id"] for c in in_review] == [filed[0]["id"]]
    by_due = (await desk.http.get(f"/api/cases?q={marker}&sort=due", headers=desk.headers(COORDINATOR))).json()
    # as instants: a time on a whole second is written without a fraction, which sorts after one with a fraction
    # of that second as text ('…:21Z' > '…:21.076000Z'), though it is earlier
    dues = [datetime.fromisoformat(c["due_at"]) for c in by_due["items"]]
    assert dues == sorted(dues)
    for bad in ("cursor=nonsense", "limit=0", "sort=sideways", "stage=limbo", "overdue=perhaps"):
        response = await desk.http.get(f"/api/cases?{bad}", headers=desk.headers(COORDINATOR))
        assert response.status_code == 422, bad
        assert response.headers["content-type"] == "application/problem+json"


async def test_wildcards_in_a_search_are_taken_literally(desk: Desk) -> None:
    plain = await desk.file(COORDINATOR, company="Plain Name KK", on_behalf_of="plain-kk")
    odd = await desk.file(COORDINATOR, company="100%_Odd Ltd", on_behalf_of="odd-ltd")
    for q, must, must_not in (("%25", odd, plain), ("_", odd, plain), ("0%25_O", odd, plain)):
        response = await desk.http.get(f"/api/cases?q={q}&limit=200", headers=desk.headers(COORDINATOR))
        ids = {c["id"] for c in response.json()["items"]}
        assert must["id"] in ids and plain["id"] not in ids and must_not["id"] not in ids, q
