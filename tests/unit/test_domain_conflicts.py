"""Pure tests of conflicts of interest (issue 21): the rule, and what a declaration accepts."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domain import conflicts, rules
from domain.conflicts import ConflictDeclaration
from domain.corporate_number import with_check_digit
from domain.model import Action
from domain.rules import RefusalKind
from tests.helpers.people import APPLICANT_ACTOR, FUND_A_ACTOR, FUND_B_ACTOR, officer_actor
from tests.helpers.states import LEAD, in_investment_decision


def test_a_member_conflicted_with_the_applicant_or_a_partner_neither_sees_nor_decides() -> None:
    state = in_investment_decision()
    for company in (APPLICANT_ACTOR.org, state.partners[0]):
        member = FUND_B_ACTOR.model_copy(update={"conflicts": frozenset({company})})
        assert not rules.can_see(state, member)
        refusal = rules.check(state, member, Action.APPROVE_INVESTMENT)
        assert refusal is not None and refusal.kind == RefusalKind.NOT_VISIBLE
    elsewhere = FUND_B_ACTOR.model_copy(update={"conflicts": frozenset({"globex-inc"})})
    assert rules.check(state, elsewhere, Action.APPROVE_INVESTMENT) is None


def test_standing_in_for_a_conflicted_member_is_conflicted_too() -> None:
    state = in_investment_decision()
    conflicted = FUND_A_ACTOR.model_copy(update={"conflicts": frozenset({APPLICANT_ACTOR.org})})
    assert not rules.can_see(state, FUND_B_ACTOR.model_copy(update={"on_behalf_of": conflicted}))
    assert rules.can_see(state, officer_actor(LEAD))  # only the member's own conflicts count


def test_conflicts_never_leave_the_person() -> None:
    member = FUND_B_ACTOR.model_copy(update={"conflicts": frozenset({"acme-gmbh"})})
    assert "conflicts" not in member.model_dump(mode="json")


@pytest.mark.parametrize("company", ["acme-gmbh", with_check_digit("970000000001")])
def test_a_declaration_names_an_applicant_or_an_sme(company: str) -> None:
    assert ConflictDeclaration(company=company, reason="shareholding").company == company


@pytest.mark.parametrize("company", ["1234567890123", "Acme GmbH", "jetro", "sme_growth_fund", ""])
def test_anything_else_is_refused(company: str) -> None:
    with pytest.raises(ValidationError):
        ConflictDeclaration(company=company, reason="shareholding")


def test_an_action_carries_only_the_conflicts_that_can_concern_its_case() -> None:
    """A member who declared ten thousand conflicts: the Update carries those with the case's applicant, partners
    and candidates, not all of them (its size must not grow with the member's declarations)."""
    state = in_investment_decision()
    many = {with_check_digit(f"{970000000000 + n}") for n in range(10_000)}
    member = FUND_B_ACTOR.model_copy(update={"conflicts": frozenset(many | {APPLICANT_ACTOR.org, state.partners[0]})})
    assert conflicts.conflicts_in(state, member) == sorted({APPLICANT_ACTOR.org, state.partners[0]})
    workflow_sees = member.model_copy(update={"conflicts": frozenset(conflicts.conflicts_in(state, member))})
    assert conflicts.conflicted(state, workflow_sees) == conflicts.conflicted(state, member)
