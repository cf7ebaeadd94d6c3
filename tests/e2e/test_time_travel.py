"""`GET /api/cases/{id}?as_of=…`: the case rebuilt from its audit events equals what was live then."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from temporalio.testing import WorkflowEnvironment

from tests.helpers.desk import Desk
from tests.helpers.people import APPLICANT, AUDITOR, COORDINATOR, FUND_MEMBER, SBIC, SJ, officer
from tests.helpers.scenarios import travel_to_year_end

PAST_ONLY = ("allowed_actions", "as_of")


async def as_of(desk: Desk, case_id: str, when: str, person: Any = AUDITOR) -> Any:
    return await desk.http.get(f"/api/cases/{case_id}?as_of={quote(when)}", headers=desk.headers(person))


async def test_the_case_rebuilt_at_every_step_equals_the_live_case_then(desk: Desk, env: WorkflowEnvironment) -> None:
    await travel_to_year_end(env)
    case = await desk.file(APPLICANT)
    cid = case["id"]
    live: list[dict[str, Any]] = []

    async def seen() -> None:
        live.append((await desk.get(cid, AUDITOR)).json())

    await seen()
    await desk.ok(cid, "request_info", COORDINATOR, questions=["Which plants?"])
    await seen()
    await desk.ok(cid, "provide_info", APPLICANT, answer="Stuttgart and Graz")
    await seen()
    await desk.ok(cid, "relay", COORDINATOR, offices=[SJ, SBIC])
    await seen()
    await env.sleep(timedelta(days=20))  # the offices are reminded and escalated: events without an Update
    await seen()
    await desk.ok(cid, "accept_case", officer(SBIC), note="ours")
    await seen()
    await desk.ok(cid, "add_note", officer(SBIC), text="called the applicant")
    await seen()
    matched = await desk.ok(cid, "run_matching", officer(SBIC), limit=5)
    await seen()
    best = matched["candidates"][0]["sme_id"]
    for action, payload in [
        ("shortlist", {"sme_ids": [best]}),
        ("record_response", {"sme_id": best, "interested": True, "note": "keen"}),
        ("select_partner", {"sme_ids": [best]}),
        ("propose_investment", {"route": "co_investment", "amount_jpy": 200_000_000, "rationale": "EU channels"}),
    ]:
        await desk.ok(cid, action, officer(SBIC), **payload)
        await seen()
    await desk.ok(cid, "return_proposal", FUND_MEMBER, comments="smaller ticket")
    await seen()
    await desk.ok(cid, "propose_investment", officer(SBIC), route="co_investment", amount_jpy=100_000_000,
                  rationale="EU channels, smaller")
    await seen()
    await desk.ok(cid, "approve_investment", FUND_MEMBER, note="approved")
    await seen()

    types = [e["type"] for e in await desk.history(cid, AUDITOR)]
    assert "reminder" in types and "escalation" in types, types
    assert len({view["updated_at"] for view in live}) == len(live), "every step is a moment of its own"
    for view in live:
        response = await as_of(desk, cid, view["updated_at"])
        assert response.status_code == 200, response.text
        past = response.json()
        assert {k: v for k, v in past.items() if k not in PAST_ONLY} == {
            k: v for k, v in view.items() if k not in PAST_ONLY
        }, f"as of {view['updated_at']} ({view['stage']})"
        assert past["allowed_actions"] == []
    # Between two steps the case is as the earlier one left it; before the filing there was no case.
    first, second = (datetime.fromisoformat(v["updated_at"]) for v in live[:2])
    between = (await as_of(desk, cid, (first + (second - first) / 2).isoformat())).json()
    assert between["stage"] == live[0]["stage"] and between["updated_at"] == live[0]["updated_at"]
    before = await as_of(desk, cid, (first - timedelta(seconds=1)).isoformat())
    assert before.status_code == 404


async def test_the_past_is_shown_as_the_viewer_may_see_it(desk: Desk) -> None:
    case = await desk.file(APPLICANT)
    await desk.ok(case, "relay", COORDINATOR, offices=[SBIC])
    noted = await desk.ok(case, "add_note", COORDINATOR, text="internal: check sanctions list")
    mine = (await as_of(desk, case["id"], noted["updated_at"], APPLICANT)).json()
    assert "notes" not in mine or mine["notes"] == []
    staff = (await as_of(desk, case["id"], noted["updated_at"], COORDINATOR)).json()
    assert [n["text"] for n in staff["notes"]] == ["internal: check sanctions list"]
    other = await as_of(desk, case["id"], noted["updated_at"], officer(SJ))
    assert other.status_code == 404


async def test_a_time_without_its_offset_is_refused(desk: Desk) -> None:
    case = await desk.file(APPLICANT)
    response = await as_of(desk, case["id"], "2026-03-03T09:00:00")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "as_of" in response.json()["detail"]
    garbage = await as_of(desk, case["id"], "last tuesday")
    assert garbage.status_code == 422
