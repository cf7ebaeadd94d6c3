"""Pure tests of domain.rules and domain.payloads against docs/DESIGN.md §2-3.

The expected tables below are written out from docs/DESIGN.md, not read from rules.py, so these tests fail when
rules.py drifts from the design.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from api.deps import refused
from domain import rules
from domain.model import SYSTEM_ACTOR, Action, Actor, CaseState, Role, Stage
from domain.payloads import parse_payload
from domain.rules import Refusal, RefusalKind
from tests.helpers.people import (
    ADMIN_ACTOR,
    APPLICANT_ACTOR,
    AUDITOR_ACTOR,
    COORDINATOR_ACTOR,
    FUND_A_ACTOR,
    FUND_B_ACTOR,
    OTHER_APPLICANT_ACTOR,
    manager_actor,
    officer_actor,
)
from tests.helpers.states import (
    LEAD,
    SECOND,
    UNRELAYED,
    build,
    in_fund_consideration,
    in_investment_decision,
    in_matching,
    in_office_review,
    paused,
    step,
)

A = Action
OPEN = frozenset(Stage) - {Stage.CLOSED}
LEAD_OFFICE_ACTIONS = frozenset({A.RUN_MATCHING, A.SHORTLIST, A.RECORD_RESPONSE, A.SELECT_PARTNER,
                                 A.CLOSE_NO_MATCH, A.PROPOSE_INVESTMENT, A.CONCLUDE_WITHOUT_FUND})

# docs/DESIGN.md §3, column "stage".
DESIGN_STAGES: dict[Action, frozenset[Stage]] = {
    A.REQUEST_INFO: frozenset({Stage.SCREENING}),
    A.PROVIDE_INFO: frozenset({Stage.AWAITING_APPLICANT_INFO}),
    A.REJECT: frozenset({Stage.SCREENING}),
    A.RELAY: frozenset({Stage.SCREENING}),
    A.ACCEPT_CASE: frozenset({Stage.OFFICE_REVIEW}),
    A.DECLINE_CASE: frozenset({Stage.OFFICE_REVIEW}),
    **{action: frozenset({Stage.MATCHING}) for action in
       (A.RUN_MATCHING, A.SHORTLIST, A.RECORD_RESPONSE, A.SELECT_PARTNER, A.CLOSE_NO_MATCH)},
    A.PROPOSE_INVESTMENT: frozenset({Stage.FUND_CONSIDERATION}),
    A.CONCLUDE_WITHOUT_FUND: frozenset({Stage.FUND_CONSIDERATION}),
    A.APPROVE_INVESTMENT: frozenset({Stage.INVESTMENT_DECISION}),
    A.DECLINE_INVESTMENT: frozenset({Stage.INVESTMENT_DECISION}),
    A.RETURN_PROPOSAL: frozenset({Stage.INVESTMENT_DECISION}),
    A.WITHDRAW: OPEN,  # "any but closed"
    A.ADD_NOTE: OPEN,
    A.REASSIGN: OPEN,
    A.PAUSE: OPEN,  # ... and not already paused
    A.RESUME: OPEN,  # "any, while paused" (a closed case has no clock to restart)
    A.UPDATE_CONTACT: OPEN,  # issue 17: the applicant (or JETRO) corrects an address mail cannot reach
    A.CLAIM: OPEN,  # ... while it waits on the caller's office and nobody is assigned
    A.RELEASE: OPEN,  # ... while it waits on the caller's office and somebody is assigned
}
# In the cases `build` makes, the lead office's officer is assigned from its acceptance on, and the case waits on
# that office in office review (nobody assigned yet), matching and fund consideration.
QUEUE_STAGES = {A.CLAIM: {Stage.OFFICE_REVIEW}, A.RELEASE: {Stage.MATCHING, Stage.FUND_CONSIDERATION}}


def design_legal(action: Action, stage: Stage, is_paused: bool) -> bool:
    if action == A.PAUSE and is_paused:
        return False
    if action == A.RESUME and not is_paused:
        return False
    if action in QUEUE_STAGES:
        return stage in QUEUE_STAGES[action]
    return stage in DESIGN_STAGES[action]


# docs/DESIGN.md §2-3, column "who": the roles that may ever take each action.
OFFICE_ROLES = frozenset({Role.OFFICE_OFFICER, Role.OFFICE_MANAGER})
STAFF = frozenset({Role.COORDINATOR, Role.FUND_COMMITTEE}) | OFFICE_ROLES
DESIGN_ROLES: dict[Action, frozenset[Role]] = {
    A.REQUEST_INFO: frozenset({Role.COORDINATOR}),
    A.PROVIDE_INFO: frozenset({Role.APPLICANT}),
    A.REJECT: frozenset({Role.COORDINATOR}),
    A.RELAY: frozenset({Role.COORDINATOR}),
    A.ACCEPT_CASE: OFFICE_ROLES,
    A.DECLINE_CASE: OFFICE_ROLES,
    **{action: OFFICE_ROLES for action in LEAD_OFFICE_ACTIONS},
    A.APPROVE_INVESTMENT: frozenset({Role.FUND_COMMITTEE}),
    A.DECLINE_INVESTMENT: frozenset({Role.FUND_COMMITTEE}),
    A.RETURN_PROPOSAL: frozenset({Role.FUND_COMMITTEE}),
    A.WITHDRAW: frozenset({Role.APPLICANT}),
    A.ADD_NOTE: STAFF,  # "any staff on the case"; the auditor changes nothing
    A.REASSIGN: frozenset({Role.COORDINATOR, Role.OFFICE_MANAGER}),
    A.PAUSE: frozenset({Role.COORDINATOR, Role.OFFICE_MANAGER}),
    A.RESUME: frozenset({Role.COORDINATOR, Role.OFFICE_MANAGER}),
    A.UPDATE_CONTACT: frozenset({Role.APPLICANT, Role.COORDINATOR}),
    A.CLAIM: OFFICE_ROLES,
    A.RELEASE: OFFICE_ROLES,
}


def design_sees(state: CaseState, actor: Actor) -> bool:
    """docs/DESIGN.md §2: who may know a case exists."""
    match actor.role:
        case Role.APPLICANT:
            return actor.org == state.applicant_org
        case Role.OFFICE_OFFICER | Role.OFFICE_MANAGER:
            return any(review.office == actor.org for review in state.offices)
        case Role.FUND_COMMITTEE:
            return state.proposal is not None
        case Role.COORDINATOR | Role.AUDITOR | Role.SYSTEM:
            return True
        case _:
            return False


# For each action, a person the table would entitle (lead office's officer, a Fund member who did not propose).
ENTITLED: dict[Action, Actor] = {
    **{action: COORDINATOR_ACTOR for action in (A.REQUEST_INFO, A.REJECT, A.RELAY, A.ADD_NOTE, A.REASSIGN,
                                          A.PAUSE, A.RESUME)},
    **{action: APPLICANT_ACTOR for action in (A.PROVIDE_INFO, A.WITHDRAW, A.UPDATE_CONTACT)},
    **{action: officer_actor(LEAD) for action in (A.ACCEPT_CASE, A.DECLINE_CASE, A.CLAIM, A.RELEASE,
                                                  *LEAD_OFFICE_ACTIONS)},
    **{action: FUND_B_ACTOR for action in (A.APPROVE_INVESTMENT, A.DECLINE_INVESTMENT, A.RETURN_PROPOSAL)},
}


def assert_refused(refusal: Refusal | None, kind: RefusalKind, action: Action) -> Refusal:
    assert refusal is not None, f"{action} was allowed; expected {kind}"
    assert (refusal.kind, refusal.action) == (kind, action), refusal
    return refusal


def test_the_tables_cover_every_action() -> None:
    assert set(DESIGN_STAGES) == set(DESIGN_ROLES) == set(ENTITLED) == set(Action)


@pytest.mark.parametrize("is_paused", [False, True], ids=["running", "paused"])
@pytest.mark.parametrize("action", list(Action), ids=str)
@pytest.mark.parametrize("stage", list(Stage), ids=str)
def test_action_is_legal_exactly_in_the_stages_of_design(stage: Stage, action: Action, is_paused: bool) -> None:
    state = build(stage, is_paused)
    # A case closed while paused is no longer paused: closing stops the clock for good.
    assert (state.stage, state.paused) == (stage, is_paused and stage != Stage.CLOSED)
    actor = ENTITLED[action]
    refusal = rules.check(state, actor, action)
    if not design_sees(state, actor):  # e.g. an office before relay: visibility comes first
        assert_refused(refusal, RefusalKind.NOT_VISIBLE, action)
    elif design_legal(action, stage, is_paused):
        assert refusal is None, refusal
    else:
        detail = assert_refused(refusal, RefusalKind.ILLEGAL_STAGE, action).detail
        assert refusal is not None and refusal.stage == stage
        assert re.search(rf"\b{action}\b", detail), f"detail does not name {action}: {detail!r}"
        assert " " in detail and "Action." not in detail and "Stage." not in detail, detail


# --- roles ------------------------------------------------------------------------------------------------

# For each action, a genuine case in a stage where it is legal, with a proposal where the Fund decides.
def in_stage(stage: Stage) -> Callable[[], CaseState]:
    return lambda: build(stage)


WHERE_LEGAL: dict[Action, Callable[[], CaseState]] = {
    **{action: in_stage(stage) for action, stages in DESIGN_STAGES.items() for stage in stages if len(stages) == 1},
    **{action: in_investment_decision for action in (A.WITHDRAW, A.ADD_NOTE, A.REASSIGN, A.PAUSE,
                                                     A.UPDATE_CONTACT)},
    A.RESUME: lambda: paused(in_investment_decision()),
    A.CLAIM: in_office_review,
    A.RELEASE: in_matching,
}
EVERYONE: dict[Role, Actor] = {
    Role.APPLICANT: APPLICANT_ACTOR,
    Role.COORDINATOR: COORDINATOR_ACTOR,
    Role.OFFICE_OFFICER: officer_actor(LEAD),
    Role.OFFICE_MANAGER: manager_actor(LEAD),
    Role.FUND_COMMITTEE: FUND_B_ACTOR,
    Role.AUDITOR: AUDITOR_ACTOR,
    Role.ADMIN: ADMIN_ACTOR,
    Role.SYSTEM: SYSTEM_ACTOR,
}


@pytest.mark.parametrize("action", list(Action), ids=str)
@pytest.mark.parametrize("role", list(Role), ids=str)
def test_only_the_roles_of_design_may_take_an_action(role: Role, action: Action) -> None:
    state, actor = WHERE_LEGAL[action](), EVERYONE[role]
    refusal = rules.check(state, actor, action)
    if not design_sees(state, actor):
        assert_refused(refusal, RefusalKind.NOT_VISIBLE, action)
    elif role in DESIGN_ROLES[action]:
        assert refusal is None, refusal
    else:
        assert_refused(refusal, RefusalKind.FORBIDDEN, action)


@pytest.mark.parametrize(("actor", "said"), [(AUDITOR_ACTOR, "an auditor"), (APPLICANT_ACTOR, "an applicant"),
                                             (COORDINATOR_ACTOR, "a coordinator")], ids=["auditor", "applicant",
                                                                                           "coordinator"])
def test_a_refusal_names_the_role_as_a_sentence_does(actor: Actor, said: str) -> None:
    refusal = rules.check(WHERE_LEGAL[A.APPROVE_INVESTMENT](), actor, A.APPROVE_INVESTMENT)
    assert refusal is not None and refusal.detail == f"{said} may not approve_investment"


def test_a_route_gate_names_the_role_as_a_sentence_does() -> None:
    refusal = refused(ADMIN_ACTOR, rules.FILERS, "{a_role} may not file a case")
    assert refusal is not None and refusal.detail == "an admin may not file a case"


OUTSIDERS = [OTHER_APPLICANT_ACTOR, officer_actor(UNRELAYED), manager_actor(UNRELAYED), ADMIN_ACTOR]


@pytest.mark.parametrize("action", list(Action), ids=str)
@pytest.mark.parametrize("outsider", OUTSIDERS, ids=lambda a: a.id)
@pytest.mark.parametrize("stage", list(Stage), ids=str)
def test_outsiders_do_not_see_the_case(stage: Stage, outsider: Actor, action: Action) -> None:
    state = build(stage)
    assert_refused(rules.check(state, outsider, action), RefusalKind.NOT_VISIBLE, action)
    assert rules.allowed_actions(state, outsider) == []


@pytest.mark.parametrize("action", list(Action), ids=str)
@pytest.mark.parametrize(
    "make", [build, lambda stage: in_fund_consideration()], ids=["stage", "fund_consideration-first-time"]
)
@pytest.mark.parametrize("stage", [Stage.SCREENING, Stage.AWAITING_APPLICANT_INFO, Stage.OFFICE_REVIEW,
                                   Stage.MATCHING], ids=str)
def test_the_fund_sees_nothing_before_a_proposal(stage: Stage, make: Callable[[Stage], CaseState],
                                                 action: Action) -> None:
    assert_refused(rules.check(make(stage), FUND_B_ACTOR, action), RefusalKind.NOT_VISIBLE, action)


@pytest.mark.parametrize("who", [officer_actor(SECOND), manager_actor(SECOND)], ids=lambda a: a.id)
@pytest.mark.parametrize("action", sorted(LEAD_OFFICE_ACTIONS), ids=str)
def test_a_relayed_office_that_is_not_lead_is_forbidden_lead_office_actions(who: Actor, action: Action) -> None:
    state = build(next(iter(DESIGN_STAGES[action])))
    assert state.lead_office == LEAD
    assert_refused(rules.check(state, who, action), RefusalKind.FORBIDDEN, action)
    assert rules.check(state, officer_actor(LEAD), action) is None


def test_four_eyes_the_proposer_may_not_approve() -> None:
    state = in_investment_decision()
    assert state.proposal is not None
    proposer_in_the_fund = FUND_A_ACTOR.model_copy(update={"id": state.proposal.proposed_by.id})
    assert_refused(rules.check(state, proposer_in_the_fund, A.APPROVE_INVESTMENT), RefusalKind.FORBIDDEN,
                   A.APPROVE_INVESTMENT)
    assert rules.check(state, FUND_A_ACTOR, A.APPROVE_INVESTMENT) is None
    assert rules.check(state, FUND_B_ACTOR, A.APPROVE_INVESTMENT) is None


@pytest.mark.parametrize("action", [A.REASSIGN, A.PAUSE, A.RESUME], ids=str)
@pytest.mark.parametrize("make", [in_matching, in_investment_decision], ids=["matching", "investment_decision"])
def test_case_management_belongs_to_the_lead_manager_and_the_coordinator(
    make: Callable[[], CaseState], action: Action
) -> None:
    state = paused(make()) if action == A.RESUME else make()
    assert rules.check(state, manager_actor(LEAD), action) is None
    assert rules.check(state, COORDINATOR_ACTOR, action) is None
    assert_refused(rules.check(state, manager_actor(SECOND), action), RefusalKind.FORBIDDEN, action)
    assert_refused(rules.check(state, officer_actor(LEAD), action), RefusalKind.FORBIDDEN, action)


@pytest.mark.parametrize("action", [A.REASSIGN, A.PAUSE], ids=str)
def test_no_office_manager_manages_the_case_before_there_is_a_lead_office(action: Action) -> None:
    assert_refused(rules.check(in_office_review(), manager_actor(LEAD), action), RefusalKind.FORBIDDEN, action)


def test_refusals_change_nothing_and_a_step_by_the_right_person_goes_through() -> None:
    state = in_matching()
    assert rules.check(state, officer_actor(SECOND), A.CLOSE_NO_MATCH) is not None
    assert step(state, manager_actor(LEAD), A.CLOSE_NO_MATCH, {"reason": "None fit."}).stage == Stage.CLOSED
    assert state.stage == Stage.MATCHING  # the original is untouched (frozen)


# --- payload validation (domain.payloads) -------------------------------------------------------------------

BAD_PAYLOADS: list[tuple[str, Action, dict[str, Any] | None]] = [
    ("relay-no-offices", A.RELAY, {"offices": []}),
    ("relay-four-offices", A.RELAY, {"offices": ["sme_support_japan", "shoko_chukin_bank", "sbic", "sbic"]}),
    ("relay-duplicate", A.RELAY, {"offices": ["sbic", "sbic"]}),
    ("relay-unknown-office", A.RELAY, {"offices": ["sbic", "mizuho"]}),
    ("relay-jetro-is-no-office", A.RELAY, {"offices": ["jetro"]}),
    ("relay-missing-offices", A.RELAY, None),
    ("propose-zero", A.PROPOSE_INVESTMENT, {"route": "fund_lp", "amount_jpy": 0, "rationale": "r"}),
    ("propose-negative", A.PROPOSE_INVESTMENT, {"route": "fund_lp", "amount_jpy": -5, "rationale": "r"}),
    ("propose-unknown-route", A.PROPOSE_INVESTMENT, {"route": "loan", "amount_jpy": 5, "rationale": "r"}),
    ("reject-extra-field", A.REJECT, {"reason": "Out of scope.", "severity": "high"}),
    ("note-extra-field", A.ADD_NOTE, {"text": "hi", "private": True}),
    ("reject-empty-reason", A.REJECT, {"reason": ""}),
]


@pytest.mark.parametrize(("action", "raw"), [(a, r) for _, a, r in BAD_PAYLOADS], ids=[n for n, _, _ in BAD_PAYLOADS])
def test_bad_payloads_are_refused_by_validation(action: Action, raw: dict[str, Any] | None) -> None:
    with pytest.raises(ValidationError):
        parse_payload(action, raw)


def test_good_payloads_parse() -> None:
    relay = parse_payload(A.RELAY, {"offices": ["sme_support_japan", "shoko_chukin_bank", "sbic"]})
    assert relay.model_dump()["offices"] == ["sme_support_japan", "shoko_chukin_bank", "sbic"]
    assert parse_payload(A.PROPOSE_INVESTMENT, {"route": "fund_lp", "amount_jpy": 1, "rationale": "r"})
    assert parse_payload(A.ACCEPT_CASE, None).model_dump() == {"note": ""}
