"""`domain.rules.can_see`, said in SQL over the read model, so lists are scoped in the database.

Tests hold the two to the same answer for every kind of person and case.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, true

from domain.model import Actor, Role
from domain.rules import FUND_OUTCOMES
from infra.tables import cases


def visible_to(actor: Actor) -> ColumnElement[bool]:
    match actor.role:
        case Role.COORDINATOR | Role.AUDITOR | Role.SYSTEM:
            return true()
        case Role.APPLICANT:
            return cases.c.applicant_org == actor.org
        case Role.OFFICE_OFFICER | Role.OFFICE_MANAGER:
            return cases.c.offices.contains([actor.org])
        case Role.FUND_COMMITTEE:
            return or_(
                cases.c.snapshot["proposal"].astext.is_not(None),
                cases.c.outcome.in_([str(o) for o in FUND_OUTCOMES]),
            )
        case _:
            return false()
