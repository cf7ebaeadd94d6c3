"""Issue 19, seen 1 and 2, through the real app: what an applicant receives of its case after a shortlist, in the
API, its history and the console — never an uninterested SME's corporate number or name, never a staff name."""

from __future__ import annotations

import json

from tests.helpers.desk import Desk
from tests.helpers.people import APPLICANT, SBIC, officer
from tests.helpers.scenarios import to_matching


async def test_the_applicant_knows_uninterested_smes_by_alias_and_staff_by_role_only(desk: Desk) -> None:
    case = await to_matching(desk)
    matched = await desk.ok(case, "run_matching", officer(SBIC), limit=5)
    first, second = (c["sme_id"] for c in matched["candidates"][:2])
    secret_name = matched["candidates"][1]["name"]
    await desk.ok(case, "shortlist", officer(SBIC), sme_ids=[first, second])
    staff_view = await desk.ok(case, "record_response", officer(SBIC), sme_id=first, interested=True)
    assert staff_view["assignee"] == "Officer of sbic" and staff_view["shortlist"] == [first, second]

    response = await desk.get(case, APPLICANT)
    assert response.status_code == 200
    seen = response.json()
    assert [(c["sme_id"], c["name"] is not None) for c in seen["candidates"]] == [(first, True),
                                                                                  ("Candidate B", False)]
    assert seen["shortlist"] == [first, "Candidate B"] and seen["assignee"] is None
    history = await desk.history(case, APPLICANT)
    desk.http.cookies.set("casedesk_session", desk.tokens[APPLICANT])
    try:
        page = await desk.http.get(f"/cases/{case['id']}")
    finally:
        desk.http.cookies.clear()
    assert page.status_code == 200 and 'data-sme="Candidate B"' in page.text
    everything = json.dumps(seen) + json.dumps(history) + page.text
    for secret in (second, secret_name, "Officer of sbic"):
        assert secret not in everything, secret
