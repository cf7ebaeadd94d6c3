"""Conflicts of interest (issue 21): a fund committee member declares a conflict with a company — an applicant
(by its organisation code) or an SME (by its corporate number) — and from then on can neither see the deliberation
of a case that company is party to nor decide its proposal (`domain.rules.conflicted`). A declaration stands: it is
kept append-only, for auditors to read, and is never withdrawn.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, field_validator

from domain.base_models import Frozen, Input
from domain.corporate_number import corporate_number_problem
from domain.fields import Text
from domain.model import Actor
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
