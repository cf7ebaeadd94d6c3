"""`domain.rules.can_see`, said in SQL over the read model, so lists are scoped in the database.

Tests hold the two to the same answer for every kind of person and case.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Text, and_, false, not_, or_, true
from sqlalchemy.dialects.postgresql import array

from domain.model import Actor, Role
from domain.rules import FUND_OUTCOMES
from infra.tables import cases


def visible_to(actor: Actor) -> ColumnElement[bool]:
    """The cases the actor may see; standing in for someone, those both of them may see."""
    if actor.on_behalf_of is not None:
        return and_(_visible_to(actor.model_copy(update={"on_behalf_of": None})), _visible_to(actor.on_behalf_of))
    return _visible_to(actor)


def _visible_to(actor: Actor) -> ColumnElement[bool]:
    match actor.role:
        case Role.COORDINATOR | Role.AUDITOR | Role.SYSTEM:
            return true()
        case Role.APPLICANT:
            return cases.c.applicant_org == actor.org
        case Role.OFFICE_OFFICER | Role.OFFICE_MANAGER:
            return cases.c.offices.contains([actor.org])
        case Role.FUND_COMMITTEE:
            deliberated = or_(
                cases.c.snapshot["proposal"].astext.is_not(None),
                cases.c.outcome.in_([str(o) for o in FUND_OUTCOMES]),
            )
            return and_(deliberated, *_not_conflicted(actor))
        case _:
            return false()


def _not_conflicted(actor: Actor) -> list[ColumnElement[bool]]:
    """`domain.conflicts.conflicted` in SQL: none of the case's companies (applicant, partners) is the actor's."""
    if not actor.conflicts:
        return []
    companies = sorted(actor.conflicts)
    return [cases.c.applicant_org.not_in(companies),
            not_(cases.c.snapshot["partners"].has_any(array(companies, type_=Text)))]
