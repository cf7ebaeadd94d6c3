"""Conflicts of interest (issue 21): a fund committee member declares a conflict with a company — an applicant
(by its organisation code) or an SME (by its corporate number) — and from then on can neither see the deliberation
of a case that company is party to nor decide its proposal (`conflicted`, which `domain.rules.can_see` asks). A
declaration stands: it is kept append-only, for auditors to read, and is never withdrawn.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, field_validator

from domain.base_models import Frozen, Input
from domain.corporate_number import corporate_number_problem
from domain.fields import Text
from domain.model import Actor, CaseState
from domain.people import APPLICANT_ORG, RESERVED_ORGS


class ConflictDeclaration(Input):
    """The body of `POST /api/me/conflicts`."""

    company: str = Field(min_length=1, max_length=64, description="An applicant's organisation code (`acme-gmbh`) "
                         "or an SME's 13-digit corporate number")
    reason: Text = Field(description="Why (e.g. a shareholding, a family tie, a board seat)")

    @field_validator("company")
    @classmethod
    def a_company(cls, company: str) -> str:
        if company.isdigit():
            if (problem := corporate_number_problem(company)) is not None:
                raise ValueError(problem)
            return company
        if not APPLICANT_ORG.match(company) or company in RESERVED_ORGS:
            raise ValueError("give an applicant's organisation code (lower case, digits, - and _) or an SME's "
                             "13-digit corporate number")
        return company


class Conflict(Frozen):
    """A declaration as kept: who declared a conflict with which company, why and when."""

    member: Actor
    company: str
    reason: str
    declared_at: datetime


def companies_of(state: CaseState) -> set[str]:
    """The companies a case's proposal concerns: the applicant (its organisation code) and the partner SMEs."""
    return {state.applicant_org, *state.partners}


def declared_conflicts(actor: Actor) -> frozenset[str]:
    """The companies the caller, or whom they stand in for, declared a conflict of interest with."""
    return actor.conflicts | (actor.on_behalf_of.conflicts if actor.on_behalf_of else frozenset())


def conflicts_in(state: CaseState, actor: Actor) -> list[str]:
    """The caller's declared conflicts that can concern this case now or after its next step (its applicant, its
    partners, and the candidates a partner is chosen from): what an action carries to the case's workflow, so
    the Update stays small however many conflicts a member has declared."""
    could_be = companies_of(state) | {candidate.sme_id for candidate in state.candidates}
    return sorted(declared_conflicts(actor) & could_be)


def conflicted(state: CaseState, actor: Actor) -> bool:
    """Whether the caller (or whom they stand in for) declared a conflict with a company of the case: then they
    neither see it — its deliberation — nor decide its proposal (`can_see` is false, so every action is refused)."""
    return bool(declared_conflicts(actor) & companies_of(state))
