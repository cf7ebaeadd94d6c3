"""Pure tests of domain.transitions (and what domain.views shows): genuine cases walked through docs/DESIGN.md §3.

The builders (tests.helpers.states, shared with test_domain_rules.py) reach every state by `rules.check`
approving and `transitions.apply` applying each step, as the workflow would.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any

import pytest

from domain import rules
from domain.model import (
    Action,
    Actor,
    CaseState,
    Office,
    Outcome,
    Review,
    Stage,
)
from domain.payloads import parse_payload
from domain.rules import RefusalKind
from domain.views import case_view
from tests.helpers.people import (
    APPLICANT_ACTOR,
    AUDITOR_ACTOR,
    COORDINATOR_ACTOR,
    FUND_A_ACTOR,
    FUND_B_ACTOR,
    manager_actor,
    officer_actor,
)
from tests.helpers.states import (
    CANDIDATES,
    LEAD,
    PROPOSAL,
    SECOND,
    awaiting_info,
    build,
    closed_with_fund,
    filed,
    in_fund_consideration,
    in_investment_decision,
    in_matching,
    in_office_review,
    paused,
    returned_proposal,
    step,
)

SECRET_NOTE = "Internal: applicant's parent is under review"

# --- every outcome of docs/DESIGN.md §3 is reached ---------------------------------------------------------------

OUTCOME_PATHS: dict[Outcome, Callable[[], CaseState]] = {
    Outcome.ALLIANCE_FORMED_WITH_FUND: closed_with_fund,
    Outcome.ALLIANCE_FORMED: lambda: step(in_fund_consideration(), officer_actor(LEAD), Action.CONCLUDE_WITHOUT_FUND),
    Outcome.REJECTED_AT_SCREENING: lambda: step(filed(), COORDINATOR_ACTOR, Action.REJECT, {"reason": "Out of scope."}),
    Outcome.DECLINED_BY_OFFICES: lambda: step(
        step(in_office_review(), officer_actor(LEAD), Action.DECLINE_CASE, {"reason": "No capacity."}),
        manager_actor(SECOND), Action.DECLINE_CASE, {"reason": "Not our sector."}),
    Outcome.NO_MATCH: lambda: step(in_matching(), officer_actor(LEAD), Action.CLOSE_NO_MATCH, {"reason": "None fit."}),
    Outcome.INVESTMENT_DECLINED: lambda: step(
        in_investment_decision(), FUND_B_ACTOR, Action.DECLINE_INVESTMENT, {"reason": "Too early."}),
    Outcome.WITHDRAWN: lambda: step(in_matching(), APPLICANT_ACTOR, Action.WITHDRAW, {"reason": "Found a partner."}),
}


@pytest.mark.parametrize("outcome", list(OUTCOME_PATHS), ids=str)
def test_every_outcome_is_reached(outcome: Outcome) -> None:
    state = OUTCOME_PATHS[outcome]()
    assert (state.stage, state.outcome) == (Stage.CLOSED, outcome)


@pytest.mark.parametrize("stage", [s for s in Stage if s != Stage.CLOSED], ids=str)
def test_the_applicant_may_withdraw_from_every_open_stage(stage: Stage) -> None:
    state = step(build(stage), APPLICANT_ACTOR, Action.WITHDRAW, {"reason": "Changed strategy."})
    assert (state.stage, state.outcome) == (Stage.CLOSED, Outcome.WITHDRAWN)


def test_first_acceptance_wins_and_closes_the_other_reviews() -> None:
    state = step(in_office_review(), officer_actor(SECOND), Action.ACCEPT_CASE, {"note": "Ours."})
    assert state.stage == Stage.MATCHING
    assert state.lead_office == SECOND
    assert {r.office: r.review for r in state.offices} == {LEAD: Review.CLOSED, SECOND: Review.ACCEPTED}
    late = rules.check(state, officer_actor(LEAD), Action.ACCEPT_CASE)
    assert late is not None and late.kind == RefusalKind.ILLEGAL_STAGE


def test_one_decline_among_two_leaves_the_case_in_office_review() -> None:
    state = step(in_office_review(), officer_actor(LEAD), Action.DECLINE_CASE, {"reason": "No capacity."})
    assert (state.stage, state.outcome, state.lead_office) == (Stage.OFFICE_REVIEW, None, None)
    assert {r.office: r.review for r in state.offices} == {LEAD: Review.DECLINED, SECOND: Review.PENDING}
    again = rules.check(state, officer_actor(LEAD), Action.ACCEPT_CASE)
    assert again is not None and again.kind == RefusalKind.ILLEGAL_STAGE
    state = step(state, officer_actor(SECOND), Action.ACCEPT_CASE, {"note": "We take it."})
    assert (state.stage, state.lead_office) == (Stage.MATCHING, SECOND)
    review = state.review_of(LEAD)
    assert review is not None and review.review == Review.DECLINED


def test_return_proposal_goes_back_to_fund_consideration_and_may_be_proposed_again() -> None:
    state = returned_proposal()
    assert state.stage == Stage.FUND_CONSIDERATION
    state = step(state, manager_actor(LEAD), Action.PROPOSE_INVESTMENT, {**PROPOSAL, "amount_jpy": 80_000_000})
    assert state.stage == Stage.INVESTMENT_DECISION
    assert state.proposal is not None and state.proposal.amount_jpy == 80_000_000


def test_request_info_and_provide_info_round_trip() -> None:
    asked = awaiting_info()
    assert (asked.stage, asked.questions) == (Stage.AWAITING_APPLICANT_INFO, ["Which tolerances do you need?"])
    answered = step(asked, APPLICANT_ACTOR, Action.PROVIDE_INFO, {"answer": "Within 5 micrometres."})
    assert (answered.stage, answered.questions) == (Stage.SCREENING, [])


def test_closing_a_paused_case_leaves_it_unpaused() -> None:
    closed = build(Stage.CLOSED, is_paused=True)
    assert closed.stage == Stage.CLOSED and not closed.paused


def test_pause_and_resume_toggle_paused() -> None:
    state = paused(in_matching())
    assert state.paused and state.stage == Stage.MATCHING
    state = step(state, manager_actor(LEAD), Action.RESUME, {"note": "Board answered."})
    assert not state.paused and state.stage == Stage.MATCHING


def test_add_note_appends_a_note_and_reassign_sets_the_assignee() -> None:
    before = in_matching()
    state = step(before, COORDINATOR_ACTOR, Action.ADD_NOTE, {"text": "First"})
    state = step(state, officer_actor(SECOND), Action.ADD_NOTE, {"text": "Second"})
    assert [(n.text, n.by.id) for n in state.notes] == [("First", COORDINATOR_ACTOR.id),
                                                         ("Second", officer_actor(SECOND).id)]
    assert state.notes[1].at == state.updated_at and state.stage == before.stage
    assert step(state, manager_actor(LEAD), Action.REASSIGN, {"assignee": "u-new"}).assignee == "u-new"


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
    assert rules.allowed_actions(filed(), APPLICANT_ACTOR) == [Action.WITHDRAW, Action.UPDATE_CONTACT]


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
    refusal = rules.check(in_matching(), officer_actor(LEAD), action, parse_payload(action, raw))
    assert refusal is not None and refusal.kind == RefusalKind.INVALID
    assert "sme-9999" in refusal.detail or "sme-0002" in refusal.detail or "sme-0003" in refusal.detail


# --- views ------------------------------------------------------------------------------------------------


def test_the_applicant_never_sees_notes_scores_factors_or_uninterested_names() -> None:
    state = step(in_investment_decision(), officer_actor(LEAD), Action.ADD_NOTE, {"text": SECRET_NOTE})
    view = case_view(state, APPLICANT_ACTOR)
    assert "notes" not in view
    assert all(c["score"] is None and c["factors"] == {} and c["reason"] is None for c in view["candidates"])
    assert {c["sme_id"]: c["name"] for c in view["candidates"]} == {"sme-0001": "Kato Precision KK",
                                                                    "Candidate B": None}
    assert view["shortlist"] == ["sme-0001", "Candidate B"]
    text = json.dumps(view)
    for secret in (SECRET_NOTE, "Ono Sensor Works", "Mori Tooling", "technology_fit", "0.91", PROPOSAL["rationale"],
                   "sme-0002", "sme-0003"):
        assert str(secret) not in text


@pytest.mark.parametrize("viewer", [COORDINATOR_ACTOR, officer_actor(LEAD), manager_actor(SECOND), FUND_A_ACTOR,
                                    AUDITOR_ACTOR], ids=lambda a: a.id)
def test_staff_see_notes(viewer: Actor) -> None:
    state = step(in_investment_decision(), officer_actor(LEAD), Action.ADD_NOTE, {"text": SECRET_NOTE})
    assert [n["text"] for n in case_view(state, viewer)["notes"]] == [SECRET_NOTE]
    assert case_view(state, viewer)["candidates"][0]["score"] == 0.91
