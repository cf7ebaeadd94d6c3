"""Every outcome of docs/DESIGN.md §3 reached end to end through HTTP, with an intact audit chain."""

from __future__ import annotations

from typing import Any

import pytest

from domain.audit import AuditEntry
from domain.chain_verification import first_broken
from tests.helpers.desk import Desk
from tests.helpers.people import APPLICANT, COORDINATOR, FUND_MEMBER, SBIC, SCB, SJ, manager, officer
from tests.helpers.scenarios import to_fund_consideration, to_investment_decision, to_matching

# Updates and refusals behave a little differently on the two servers: prove both.
WORKFLOW_ENVIRONMENTS = ("time-skipping", "local")

async def assert_chain_intact(desk: Desk, case: dict[str, Any]) -> list[str]:
    events = await desk.history(case, COORDINATOR)
    assert first_broken([AuditEntry.model_validate(e) for e in events]) is None
    return [e["type"] for e in events]


async def test_alliance_formed_with_fund(desk: Desk) -> None:
    case = await to_investment_decision(desk)
    assert case["proposal"]["route"] == "co_investment"
    closed = await desk.ok(case, "approve_investment", FUND_MEMBER, note="approved")
    assert (closed["stage"], closed["outcome"]) == ("closed", "alliance_formed_with_fund")
    assert await assert_chain_intact(desk, case) == [
        "filed", "relay", "accept_case", "run_matching", "shortlist", "record_response", "select_partner",
        "propose_investment", "approve_investment",
    ]


async def test_first_acceptance_wins_and_closes_the_other_reviews(desk: Desk) -> None:
    case = await to_matching(desk)
    reviews = {r["office"]: r["review"] for r in case["offices"]}
    assert reviews == {SJ: "closed", SBIC: "accepted"}
    assert case["lead_office"] == SBIC and case["stage"] == "matching"
    late = await desk.act(case, "accept_case", officer(SJ))
    assert late.status_code == 409


async def test_matching_candidates_carry_scores_and_reasons(desk: Desk) -> None:
    case = await to_matching(desk)
    matched = await desk.ok(case, "run_matching", officer(SBIC))
    top = matched["candidates"][0]
    assert top["name"] == "Aichi Precision Works" and top["score"] == 1.0
    assert "match 2 of 2" in top["reason"]
    assert [c["score"] for c in matched["candidates"]] == sorted((c["score"] for c in matched["candidates"]),
                                                                 reverse=True)


@pytest.mark.parametrize(
    ("path", "outcome"),
    [
        ("reject", "rejected_at_screening"),
        ("declined", "declined_by_offices"),
        ("no_match", "no_match"),
        ("without_fund", "alliance_formed"),
        ("investment_declined", "investment_declined"),
        ("withdrawn", "withdrawn"),
    ],
)
async def test_every_other_outcome(desk: Desk, path: str, outcome: str) -> None:
    if path == "reject":
        case = await desk.file(APPLICANT)
        closed = await desk.ok(case, "reject", COORDINATOR, reason="outside the scheme")
    elif path == "declined":
        case = await desk.file(APPLICANT)
        await desk.ok(case, "relay", COORDINATOR, offices=[SJ, SCB])
        still = await desk.ok(case, "decline_case", officer(SJ), reason="no capacity")
        assert still["stage"] == "office_review"
        closed = await desk.ok(case, "decline_case", officer(SCB), reason="not our field")
    elif path == "no_match":
        case = await to_matching(desk)
        closed = await desk.ok(case, "close_no_match", officer(SBIC), reason="nobody interested")
    elif path == "without_fund":
        case = await to_fund_consideration(desk)
        closed = await desk.ok(case, "conclude_without_fund", manager(SBIC), note="direct tie-up")
    elif path == "investment_declined":
        case = await to_investment_decision(desk)
        closed = await desk.ok(case, "decline_investment", FUND_MEMBER, reason="valuation")
    else:
        case = await to_matching(desk)
        closed = await desk.ok(case, "withdraw", APPLICANT, reason="changed strategy")
    assert (closed["stage"], closed["outcome"]) == ("closed", outcome)
    assert closed["allowed_actions"] == []
    types = await assert_chain_intact(desk, case)
    closing = {"reject": "reject", "declined": "decline_case", "no_match": "close_no_match",
               "without_fund": "conclude_without_fund", "investment_declined": "decline_investment",
               "withdrawn": "withdraw"}[path]
    assert types[0] == "filed" and types[-1] == closing


async def test_information_round_trip_and_returned_proposal(desk: Desk) -> None:
    case = await desk.file(APPLICANT)
    asked = await desk.ok(case, "request_info", COORDINATOR, questions=["Which markets?"])
    assert asked["stage"] == "awaiting_applicant_info" and asked["questions"] == ["Which markets?"]
    answered = await desk.ok(case, "provide_info", APPLICANT, answer="Germany and Poland")
    assert answered["stage"] == "screening"

    case = await to_investment_decision(desk)
    returned = await desk.ok(case, "return_proposal", FUND_MEMBER, comments="lower the amount")
    assert returned["stage"] == "fund_consideration"
    await desk.ok(case, "propose_investment", officer(SBIC), route="fund_lp", amount_jpy=100_000_000,
                  rationale="smaller ticket")
    closed = await desk.ok(case, "approve_investment", FUND_MEMBER)
    assert closed["outcome"] == "alliance_formed_with_fund"


async def test_notes_reassign_pause_resume_in_an_open_stage(desk: Desk) -> None:
    case = await to_matching(desk)
    noted = await desk.ok(case, "add_note", officer(SBIC), text="call the CFO on Monday")
    assert [n["text"] for n in noted["notes"]] == ["call the CFO on Monday"]
    seen_by_applicant = (await desk.get(case, APPLICANT)).json()
    assert "notes" not in seen_by_applicant
    assert "add_note" not in [e["type"] for e in await desk.history(case, APPLICANT)]
    assert (await desk.ok(case, "reassign", manager(SBIC), assignee="Hanako Ito"))["assignee"] == "Hanako Ito"
    assert (await desk.ok(case, "pause", COORDINATOR, reason="waiting on a patent search"))["paused"] is True
    assert (await desk.act(case, "pause", COORDINATOR, reason="again")).status_code == 409
    assert (await desk.ok(case, "resume", manager(SBIC)))["paused"] is False
