"""Pure tests of domain.transitions (and what domain.views shows): genuine cases walked through docs/DESIGN.md §3.

The builders here are shared with test_domain_rules.py: every state is reached by `rules.check` approving
and `transitions.apply` applying each step, as the workflow would.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain import rules
from domain.model import (
    FUND,
    JETRO,
    OPERATOR,
    OVERSIGHT,
    Action,
    Actor,
    Candidate,
    CaseState,
    FilingRequest,
    Office,
    Outcome,
    Review,
    Role,
    Stage,
)
from domain.payloads import parse_payload
from domain.rules import RefusalKind
from domain.transitions import apply, new_case
from domain.views import case_view
from tests.support import filing

T0 = datetime(2026, 4, 6, 9, 0, tzinfo=UTC)
CASE_ID = "5b1f0c3e-8d2a-4c6b-9f4e-2a7d1e0b9c11"
LEAD = Office.SME_SUPPORT_JAPAN  # relayed, accepts first: the lead office
SECOND = Office.SBIC  # relayed, not lead
UNRELAYED = Office.SHOKO_CHUKIN_BANK  # never relayed


def person(role: Role, org: str, who: str) -> Actor:
    return Actor(id=f"u-{who}", name=who.replace("-", " ").title(), role=role, org=org)


def officer(office: Office) -> Actor:
    return person(Role.OFFICE_OFFICER, office, f"officer-{office}")


def manager(office: Office) -> Actor:
    return person(Role.OFFICE_MANAGER, office, f"manager-{office}")


APPLICANT = person(Role.APPLICANT, "acme-gmbh", "anna-schmidt")
OTHER_APPLICANT = person(Role.APPLICANT, "globex-inc", "hank-scorpio")
COORDINATOR = person(Role.COORDINATOR, JETRO, "kenji-sato")
FUND_A = person(Role.FUND_COMMITTEE, FUND, "fund-aoki")
FUND_B = person(Role.FUND_COMMITTEE, FUND, "fund-baba")
AUDITOR = person(Role.AUDITOR, OVERSIGHT, "audrey-ito")
ADMIN = person(Role.ADMIN, OPERATOR, "ops-ueda")

CANDIDATES = [
    Candidate(sme_id="sme-0001", name="Kato Precision KK", score=0.91, factors={"technology_fit": 0.91},
              reason="precision machining + sensors match 2 of 2 sought technologies"),
    Candidate(sme_id="sme-0002", name="Ono Sensor Works", score=0.55, factors={"technology_fit": 0.5},
              reason="sensors match 1 of 2 sought technologies"),
    Candidate(sme_id="sme-0003", name="Mori Tooling", score=0.3, factors={"technology_fit": 0.3},
              reason="no sought technology matches"),
]
PROPOSAL = {"route": "co_investment", "amount_jpy": 120_000_000, "rationale": "Opens EU sales for Kato."}
SECRET_NOTE = "Internal: applicant's parent is under review"


def step(state: CaseState, actor: Actor, action: Action, raw: dict[str, Any] | None = None,
         candidates: list[Candidate] | None = None) -> CaseState:
    """Take one approved step, exactly as the workflow does: validate, check, apply."""
    payload = parse_payload(action, raw)
    refusal = rules.check(state, actor, action, payload)
    assert refusal is None, f"builder step {action} by {actor.role}/{actor.org} refused: {refusal}"
    return apply(state, actor, action, payload, state.updated_at + timedelta(minutes=7), candidates)


def filed() -> CaseState:
    return new_case(CASE_ID, FilingRequest.model_validate(filing()), APPLICANT, T0)


def awaiting_info() -> CaseState:
    return step(filed(), COORDINATOR, Action.REQUEST_INFO, {"questions": ["Which tolerances do you need?"]})


def screened_again() -> CaseState:
    return step(awaiting_info(), APPLICANT, Action.PROVIDE_INFO, {"answer": "Within 5 micrometres."})


def in_office_review() -> CaseState:
    return step(screened_again(), COORDINATOR, Action.RELAY, {"offices": [LEAD, SECOND], "note": "Two fits"})


def in_matching() -> CaseState:
    """Lead office accepted; three candidates, two shortlisted; sme-0001 interested, sme-0002 not."""
    state = step(in_office_review(), officer(LEAD), Action.ACCEPT_CASE, {"note": "We take it."})
    state = step(state, officer(LEAD), Action.RUN_MATCHING, {"limit": 10}, candidates=CANDIDATES)
    state = step(state, officer(LEAD), Action.SHORTLIST, {"sme_ids": ["sme-0001", "sme-0002"]})
    state = step(state, officer(LEAD), Action.RECORD_RESPONSE, {"sme_id": "sme-0001", "interested": True})
    return step(state, officer(LEAD), Action.RECORD_RESPONSE, {"sme_id": "sme-0002", "interested": False})


def in_fund_consideration() -> CaseState:
    return step(in_matching(), officer(LEAD), Action.SELECT_PARTNER, {"sme_ids": ["sme-0001"]})


def in_investment_decision() -> CaseState:
    return step(in_fund_consideration(), officer(LEAD), Action.PROPOSE_INVESTMENT, PROPOSAL)


def returned_proposal() -> CaseState:
    return step(in_investment_decision(), FUND_A, Action.RETURN_PROPOSAL, {"comments": "Lower the amount."})


def closed_with_fund() -> CaseState:
    return step(in_investment_decision(), FUND_A, Action.APPROVE_INVESTMENT, {"note": "Approved."})


def paused(state: CaseState) -> CaseState:
    return step(state, COORDINATOR, Action.PAUSE, {"reason": "Waiting on the SME's board."})


# One genuine case per stage; fund_consideration after a returned proposal so the Fund can see it.
STAGE_STATES: dict[Stage, Callable[[], CaseState]] = {
    Stage.SCREENING: screened_again,
    Stage.AWAITING_APPLICANT_INFO: awaiting_info,
    Stage.OFFICE_REVIEW: in_office_review,
    Stage.MATCHING: in_matching,
    Stage.FUND_CONSIDERATION: returned_proposal,
    Stage.INVESTMENT_DECISION: in_investment_decision,
    Stage.CLOSED: closed_with_fund,
}


def build(stage: Stage, is_paused: bool = False) -> CaseState:
    if not is_paused:
        return STAGE_STATES[stage]()
    if stage == Stage.CLOSED:  # paused while deciding, then decided
        return step(paused(in_investment_decision()), FUND_B, Action.APPROVE_INVESTMENT, {"note": "Approved."})
    return paused(STAGE_STATES[stage]())


# --- every outcome of docs/DESIGN.md §3 is reached ---------------------------------------------------------------

OUTCOME_PATHS: dict[Outcome, Callable[[], CaseState]] = {
    Outcome.ALLIANCE_FORMED_WITH_FUND: closed_with_fund,
    Outcome.ALLIANCE_FORMED: lambda: step(in_fund_consideration(), officer(LEAD), Action.CONCLUDE_WITHOUT_FUND),
    Outcome.REJECTED_AT_SCREENING: lambda: step(filed(), COORDINATOR, Action.REJECT, {"reason": "Out of scope."}),
    Outcome.DECLINED_BY_OFFICES: lambda: step(
        step(in_office_review(), officer(LEAD), Action.DECLINE_CASE, {"reason": "No capacity."}),
        manager(SECOND), Action.DECLINE_CASE, {"reason": "Not our sector."}),
    Outcome.NO_MATCH: lambda: step(in_matching(), officer(LEAD), Action.CLOSE_NO_MATCH, {"reason": "None fit."}),
    Outcome.INVESTMENT_DECLINED: lambda: step(
        in_investment_decision(), FUND_B, Action.DECLINE_INVESTMENT, {"reason": "Too early."}),
    Outcome.WITHDRAWN: lambda: step(in_matching(), APPLICANT, Action.WITHDRAW, {"reason": "Found a partner."}),
}


@pytest.mark.parametrize("outcome", list(OUTCOME_PATHS), ids=str)
def test_every_outcome_is_reached(outcome: Outcome) -> None:
    state = OUTCOME_PATHS[outcome]()
    assert (state.stage, state.outcome) == (Stage.CLOSED, outcome)


@pytest.mark.parametrize("stage", [s for s in Stage if s != Stage.CLOSED], ids=str)
def test_the_applicant_may_withdraw_from_every_open_stage(stage: Stage) -> None:
    state = step(build(stage), APPLICANT, Action.WITHDRAW, {"reason": "Changed strategy."})
    assert (state.stage, state.outcome) == (Stage.CLOSED, Outcome.WITHDRAWN)


def test_first_acceptance_wins_and_closes_the_other_reviews() -> None:
    state = step(in_office_review(), officer(SECOND), Action.ACCEPT_CASE, {"note": "Ours."})
    assert state.stage == Stage.MATCHING
    assert state.lead_office == SECOND
    assert {r.office: r.review for r in state.offices} == {LEAD: Review.CLOSED, SECOND: Review.ACCEPTED}
    late = rules.check(state, officer(LEAD), Action.ACCEPT_CASE)
    assert late is not None and late.kind == RefusalKind.ILLEGAL_STAGE


def test_one_decline_among_two_leaves_the_case_in_office_review() -> None:
    state = step(in_office_review(), officer(LEAD), Action.DECLINE_CASE, {"reason": "No capacity."})
    assert (state.stage, state.outcome, state.lead_office) == (Stage.OFFICE_REVIEW, None, None)
    assert {r.office: r.review for r in state.offices} == {LEAD: Review.DECLINED, SECOND: Review.PENDING}
    again = rules.check(state, officer(LEAD), Action.ACCEPT_CASE)
    assert again is not None and again.kind == RefusalKind.ILLEGAL_STAGE
    state = step(state, officer(SECOND), Action.ACCEPT_CASE, {"note": "We take it."})
    assert (state.stage, state.lead_office) == (Stage.MATCHING, SECOND)
    review = state.review_of(LEAD)
    assert review is not None and review.review == Review.DECLINED


def test_return_proposal_goes_back_to_fund_consideration_and_may_be_proposed_again() -> None:
    state = returned_proposal()
    assert state.stage == Stage.FUND_CONSIDERATION
    state = step(state, manager(LEAD), Action.PROPOSE_INVESTMENT, {**PROPOSAL, "amount_jpy": 80_000_000})
    assert state.stage == Stage.INVESTMENT_DECISION
    assert state.proposal is not None and state.proposal.amount_jpy == 80_000_000


def test_request_info_and_provide_info_round_trip() -> None:
    asked = awaiting_info()
    assert (asked.stage, asked.questions) == (Stage.AWAITING_APPLICANT_INFO, ["Which tolerances do you need?"])
    answered = step(asked, APPLICANT, Action.PROVIDE_INFO, {"answer": "Within 5 micrometres."})
    assert (answered.stage, answered.questions) == (Stage.SCREENING, [])


def test_closing_a_paused_case_leaves_it_unpaused() -> None:
    closed = build(Stage.CLOSED, is_paused=True)
    assert closed.stage == Stage.CLOSED and not closed.paused


def test_pause_and_resume_toggle_paused() -> None:
    state = paused(in_matching())
    assert state.paused and state.stage == Stage.MATCHING
    state = step(state, manager(LEAD), Action.RESUME, {"note": "Board answered."})
    assert not state.paused and state.stage == Stage.MATCHING


def test_add_note_appends_a_note_and_reassign_sets_the_assignee() -> None:
    before = in_matching()
    state = step(before, COORDINATOR, Action.ADD_NOTE, {"text": "First"})
    state = step(state, officer(SECOND), Action.ADD_NOTE, {"text": "Second"})
    assert [(n.text, n.by.id) for n in state.notes] == [("First", COORDINATOR.id), ("Second", officer(SECOND).id)]
    assert state.notes[1].at == state.updated_at and state.stage == before.stage
    assert step(state, manager(LEAD), Action.REASSIGN, {"assignee": "u-new"}).assignee == "u-new"


@pytest.mark.parametrize("stage", list(Stage), ids=str)
def test_every_case_serialises_cleanly_as_its_declared_types(stage: Stage) -> None:
    state = build(stage)
    assert state.lead_office is None or type(state.lead_office) is Office
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pydantic warns when a field holds a value of the wrong type
        assert CaseState.model_validate_json(state.model_dump_json()) == state


def test_run_matching_records_the_candidates() -> None:
    assert in_matching().candidates == CANDIDATES


def test_allowed_actions_for_the_applicant_in_screening() -> None:
    assert rules.allowed_actions(filed(), APPLICANT) == [Action.WITHDRAW]


@pytest.mark.parametrize(
    ("action", "raw"),
    [
        (Action.SHORTLIST, {"sme_ids": ["sme-0001", "sme-9999"]}),  # not among the candidates
        (Action.RECORD_RESPONSE, {"sme_id": "sme-0003", "interested": True}),  # not on the shortlist
        (Action.SELECT_PARTNER, {"sme_ids": ["sme-0002"]}),  # said no
        (Action.SELECT_PARTNER, {"sme_ids": ["sme-0001", "sme-0003"]}),  # never answered
    ],
    ids=["shortlist-unknown", "response-off-shortlist", "partner-said-no", "partner-never-asked"],
)
def test_payloads_that_do_not_fit_the_case_are_invalid(action: Action, raw: dict[str, Any]) -> None:
    refusal = rules.check(in_matching(), officer(LEAD), action, parse_payload(action, raw))
    assert refusal is not None and refusal.kind == RefusalKind.INVALID
    assert "sme-9999" in refusal.detail or "sme-0002" in refusal.detail or "sme-0003" in refusal.detail


# --- views ------------------------------------------------------------------------------------------------


def test_the_applicant_never_sees_notes_scores_factors_or_uninterested_names() -> None:
    state = step(in_investment_decision(), officer(LEAD), Action.ADD_NOTE, {"text": SECRET_NOTE})
    view = case_view(state, APPLICANT)
    assert "notes" not in view
    assert all(c["score"] is None and c["factors"] == {} and c["reason"] is None for c in view["candidates"])
    assert {c["sme_id"]: c["name"] for c in view["candidates"]} == {"sme-0001": "Kato Precision KK",
                                                                    "sme-0002": None}
    text = json.dumps(view)
    for secret in (SECRET_NOTE, "Ono Sensor Works", "Mori Tooling", "technology_fit", "0.91", PROPOSAL["rationale"]):
        assert str(secret) not in text


@pytest.mark.parametrize("viewer", [COORDINATOR, officer(LEAD), manager(SECOND), FUND_A, AUDITOR], ids=lambda a: a.id)
def test_staff_see_notes(viewer: Actor) -> None:
    state = step(in_investment_decision(), officer(LEAD), Action.ADD_NOTE, {"text": SECRET_NOTE})
    assert [n["text"] for n in case_view(state, viewer)["notes"]] == [SECRET_NOTE]
    assert case_view(state, viewer)["candidates"][0]["score"] == 0.91
