"""Pure tests of reassignment by user id and of bulk reassignment's rules (issue 21)."""

from __future__ import annotations

from domain import rules, team_rules
from domain.model import Action
from domain.payloads import Reassign
from domain.reassignment import reassignment_problems
from domain.rules import RefusalKind
from domain.transitions import event_payload
from tests.helpers.people import AUDITOR_ACTOR, COORDINATOR_ACTOR, actor, manager_actor, officer_actor
from tests.helpers.states import LEAD, SECOND, in_matching, step

COLLEAGUE = actor(officer_actor(LEAD).role, LEAD, "officer-two")


def test_a_reassignment_to_a_user_puts_the_case_in_their_work_and_one_by_name_as_it_always_did() -> None:
    to_user = {"assignee": COLLEAGUE.name, "assignee_id": COLLEAGUE.id, "assignee_org": LEAD}
    moved = step(in_matching(), manager_actor(LEAD), Action.REASSIGN, to_user)
    assert (moved.assignee, moved.assignee_id, moved.assignee_org) == (COLLEAGUE.name, COLLEAGUE.id, LEAD)
    by_name = step(in_matching(), COORDINATOR_ACTOR, Action.REASSIGN, {"assignee": "Somebody"})
    assert (by_name.assignee, by_name.assignee_id, by_name.assignee_org) == ("Somebody", None, None)
    assert event_payload(Action.REASSIGN, Reassign(assignee="Somebody"), None) == {"assignee": "Somebody"}


def test_a_case_is_reassigned_only_to_a_user_of_an_organisation_on_it() -> None:
    elsewhere = Reassign(assignee="Officer", assignee_id="u-1", assignee_org="shoko_chukin_bank")
    refusal = rules.check(in_matching(), COORDINATOR_ACTOR, Action.REASSIGN, elsewhere)
    assert refusal is not None and refusal.kind == RefusalKind.INVALID and "shoko_chukin_bank" in refusal.detail
    on_it = Reassign(assignee="Officer", assignee_id="u-1", assignee_org=SECOND)
    assert rules.check(in_matching(), COORDINATOR_ACTOR, Action.REASSIGN, on_it) is None


def test_managers_reassign_in_bulk_their_own_office_coordinators_any_and_auditors_only_read() -> None:
    assert team_rules.bulk_reassignment_refusal(manager_actor(LEAD), LEAD) is None
    assert "own office" in (team_rules.bulk_reassignment_refusal(manager_actor(LEAD), SECOND) or "")
    assert team_rules.bulk_reassignment_refusal(COORDINATOR_ACTOR, SECOND) is None
    for nobody in (officer_actor(LEAD), AUDITOR_ACTOR):
        assert team_rules.bulk_reassignment_refusal(nobody, LEAD) is not None
    standing_in = officer_actor(LEAD).model_copy(update={"on_behalf_of": manager_actor(LEAD)})
    # an officer's rights bound the manager's
    assert team_rules.bulk_reassignment_refusal(standing_in, LEAD) is not None
    assert team_rules.may_read_reassignment(AUDITOR_ACTOR, SECOND)
    assert not team_rules.may_read_reassignment(manager_actor(LEAD), SECOND)


def test_the_cases_go_to_a_colleague_of_the_person_who_leaves() -> None:
    leaving = officer_actor(LEAD)
    assert reassignment_problems(leaving, COLLEAGUE) == []
    assert reassignment_problems(leaving, manager_actor(LEAD)) == []
    assert [f for f, _ in reassignment_problems(leaving, officer_actor(SECOND))] == ["to"]
    assert [f for f, _ in reassignment_problems(leaving, leaving)] == ["to"]
    assert [f for f, _ in reassignment_problems(None, None)] == ["from", "to"]
