"""Genuine case states for the pure domain tests: every state is reached by `rules.check` approving and
`transitions.apply` applying each step, as the workflow would (docs/DESIGN.md §3).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from domain import rules
from domain.filing import FilingRequest
from domain.model import Action, Actor, Candidate, CaseState, Office, Stage
from domain.payloads import parse_payload
from domain.transitions import apply, new_case
from tests.helpers.people import APPLICANT_ACTOR, COORDINATOR_ACTOR, FUND_A_ACTOR, FUND_B_ACTOR, officer_actor
from tests.helpers.support import filing

T0 = datetime(2026, 4, 6, 9, 0, tzinfo=UTC)
CASE_ID = "5b1f0c3e-8d2a-4c6b-9f4e-2a7d1e0b9c11"
LEAD = Office.SME_SUPPORT_JAPAN  # relayed, accepts first: the lead office
SECOND = Office.SBIC  # relayed, not lead
UNRELAYED = Office.SHOKO_CHUKIN_BANK  # never relayed

CANDIDATES = [
    Candidate(sme_id="sme-0001", name="Kato Precision KK", score=0.91, factors={"technology_fit": 0.91},
              reason="precision machining + sensors match 2 of 2 sought technologies"),
    Candidate(sme_id="sme-0002", name="Ono Sensor Works", score=0.55, factors={"technology_fit": 0.5},
              reason="sensors match 1 of 2 sought technologies"),
    Candidate(sme_id="sme-0003", name="Mori Tooling", score=0.3, factors={"technology_fit": 0.3},
              reason="no sought technology matches"),
]
PROPOSAL = {"route": "co_investment", "amount_jpy": 120_000_000, "rationale": "Opens EU sales for Kato."}


def step(state: CaseState, actor: Actor, action: Action, raw: dict[str, Any] | None = None,
         candidates: list[Candidate] | None = None) -> CaseState:
    """Take one approved step, exactly as the workflow does: validate, check, apply."""
    payload = parse_payload(action, raw)
    refusal = rules.check(state, actor, action, payload)
    assert refusal is None, f"builder step {action} by {actor.role}/{actor.org} refused: {refusal}"
    return apply(state, actor, action, payload, state.updated_at + timedelta(minutes=7), candidates)


def filed() -> CaseState:
    return new_case(CASE_ID, FilingRequest.model_validate(filing()), APPLICANT_ACTOR, T0)


def awaiting_info() -> CaseState:
    return step(filed(), COORDINATOR_ACTOR, Action.REQUEST_INFO, {"questions": ["Which tolerances do you need?"]})


def screened_again() -> CaseState:
    return step(awaiting_info(), APPLICANT_ACTOR, Action.PROVIDE_INFO, {"answer": "Within 5 micrometres."})


def in_office_review() -> CaseState:
    return step(screened_again(), COORDINATOR_ACTOR, Action.RELAY, {"offices": [LEAD, SECOND], "note": "Two fits"})


def in_matching() -> CaseState:
    """Lead office accepted; three candidates, two shortlisted; sme-0001 interested, sme-0002 not."""
    state = step(in_office_review(), officer_actor(LEAD), Action.ACCEPT_CASE, {"note": "We take it."})
    state = step(state, officer_actor(LEAD), Action.RUN_MATCHING, {"limit": 10}, candidates=CANDIDATES)
    state = step(state, officer_actor(LEAD), Action.SHORTLIST, {"sme_ids": ["sme-0001", "sme-0002"]})
    state = step(state, officer_actor(LEAD), Action.RECORD_RESPONSE, {"sme_id": "sme-0001", "interested": True})
    return step(state, officer_actor(LEAD), Action.RECORD_RESPONSE, {"sme_id": "sme-0002", "interested": False})


def in_fund_consideration() -> CaseState:
    return step(in_matching(), officer_actor(LEAD), Action.SELECT_PARTNER, {"sme_ids": ["sme-0001"]})


def in_investment_decision() -> CaseState:
    return step(in_fund_consideration(), officer_actor(LEAD), Action.PROPOSE_INVESTMENT, PROPOSAL)


def returned_proposal() -> CaseState:
    return step(in_investment_decision(), FUND_A_ACTOR, Action.RETURN_PROPOSAL, {"comments": "Lower the amount."})


def closed_with_fund() -> CaseState:
    return step(in_investment_decision(), FUND_A_ACTOR, Action.APPROVE_INVESTMENT, {"note": "Approved."})


def paused(state: CaseState) -> CaseState:
    return step(state, COORDINATOR_ACTOR, Action.PAUSE, {"reason": "Waiting on the SME's board."})


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
        return step(paused(in_investment_decision()), FUND_B_ACTOR, Action.APPROVE_INVESTMENT, {"note": "Approved."})
    return paused(STAGE_STATES[stage]())
