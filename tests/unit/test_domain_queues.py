"""Pure tests of claiming and releasing (issue 21): who may take a case from an office's queue, and what it does."""

from __future__ import annotations

from domain import rules
from domain.model import Action, Stage
from domain.rules import RefusalKind
from tests.helpers.people import COORDINATOR_ACTOR, actor, manager_actor, officer_actor
from tests.helpers.states import LEAD, SECOND, in_investment_decision, in_matching, in_office_review, step

COLLEAGUE = actor(officer_actor(LEAD).role, LEAD, "officer-two")


def test_an_officer_of_an_office_the_case_waits_on_claims_it_and_becomes_its_assignee() -> None:
    claimed = step(in_office_review(), officer_actor(SECOND), Action.CLAIM)
    assert (claimed.assignee, claimed.assignee_id, claimed.assignee_org) == (
        officer_actor(SECOND).name, officer_actor(SECOND).id, SECOND)
    assert Action.CLAIM not in rules.allowed_actions(claimed, officer_actor(LEAD))


def test_a_claimed_case_is_refused_to_another_claim_naming_its_assignee() -> None:
    claimed = step(in_office_review(), officer_actor(LEAD), Action.CLAIM)
    refusal = rules.check(claimed, COLLEAGUE, Action.CLAIM)
    assert refusal is not None and refusal.kind == RefusalKind.ILLEGAL_STAGE
    assert officer_actor(LEAD).name in refusal.detail
    mine = rules.check(claimed, officer_actor(LEAD), Action.CLAIM)
    assert mine is not None and "already assigned to you" in mine.detail


def test_only_the_assignee_or_a_manager_of_the_office_releases_a_case() -> None:
    claimed = step(in_office_review(), officer_actor(LEAD), Action.CLAIM)
    refusal = rules.check(claimed, COLLEAGUE, Action.RELEASE)
    assert refusal is not None and refusal.kind == RefusalKind.FORBIDDEN
    assert step(claimed, officer_actor(LEAD), Action.RELEASE).assignee is None
    released = step(claimed, manager_actor(LEAD), Action.RELEASE)
    assert (released.assignee, released.assignee_id, released.assignee_org) == (None, None, None)
    again = rules.check(released, officer_actor(LEAD), Action.RELEASE)
    assert again is not None and again.kind == RefusalKind.ILLEGAL_STAGE and "nobody" in again.detail


def test_a_case_that_waits_on_another_organisation_cannot_be_claimed() -> None:
    deciding = in_investment_decision()  # waits on the Fund
    refusal = rules.check(deciding, manager_actor(LEAD), Action.RELEASE)
    assert refusal is not None and refusal.kind == RefusalKind.ILLEGAL_STAGE and "sme_growth_fund" in refusal.detail
    matching = in_matching()  # waits on the lead office only
    other = rules.check(matching, officer_actor(SECOND), Action.CLAIM)
    assert other is not None and other.kind in (RefusalKind.NOT_VISIBLE, RefusalKind.ILLEGAL_STAGE)
    coordinator = rules.check(in_office_review(), COORDINATOR_ACTOR, Action.CLAIM)
    assert coordinator is not None and coordinator.kind == RefusalKind.FORBIDDEN


def test_accepting_assigns_the_case_to_the_accepting_officer() -> None:
    matching = in_matching()
    assert matching.stage == Stage.MATCHING
    assert (matching.assignee_id, matching.assignee_org) == (officer_actor(LEAD).id, LEAD)


def test_an_office_declining_lets_go_of_its_claim_and_reassigning_by_name_forgets_the_id() -> None:
    claimed = step(in_office_review(), officer_actor(SECOND), Action.CLAIM)
    declined = step(claimed, officer_actor(SECOND), Action.DECLINE_CASE, {"reason": "No capacity"})
    assert (declined.stage, declined.assignee, declined.assignee_id) == (Stage.OFFICE_REVIEW, None, None)
    reassigned = step(in_matching(), manager_actor(LEAD), Action.REASSIGN, {"assignee": "Hanako Ito"})
    assert (reassigned.assignee, reassigned.assignee_id, reassigned.assignee_org) == ("Hanako Ito", None, None)
