"""Who sees which case: the list (SQL) and the single case (domain rule) always agree."""

from __future__ import annotations

from typing import Any

from domain.model import Office, Role
from tests.desk import Desk
from tests.support import APPLICANT, AUDITOR, COORDINATOR, FUND_MEMBER, manager, officer
from tests.test_lifecycle import SBIC, SJ, to_investment_decision, to_matching

EVERYONE = [APPLICANT, COORDINATOR, FUND_MEMBER, AUDITOR, (Role.ADMIN, "operator"),
            *(officer(o) for o in Office), *(manager(o) for o in Office)]


async def test_lists_show_exactly_the_cases_each_person_may_open(desk: Desk) -> None:
    screening = await desk.file(APPLICANT)
    other_company = await desk.file(COORDINATOR, company="Globex SA", on_behalf_of="globex-sa")
    matching = await to_matching(desk)
    deciding = await to_investment_decision(desk)
    ours = {c["id"] for c in (screening, other_company, matching, deciding)}

    expected: dict[tuple[Role, str], set[str]] = {
        APPLICANT: {screening["id"], matching["id"], deciding["id"]},
        COORDINATOR: ours, AUDITOR: ours, (Role.ADMIN, "operator"): set(),
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
