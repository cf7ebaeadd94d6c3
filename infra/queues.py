"""`domain.service_levels.waiting_on` said in SQL over the read model: the open cases that wait on a person's
organisation, so an office's queue (issue 21) is read in the database. The e2e tests of "My work" hold the two
to the same answer."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, func, not_, or_

from domain.model import Actor, Role, Stage
from infra.tables import cases


def waits_on(actor: Actor) -> ColumnElement[bool]:
    """Cases that wait on the actor's organisation now (on the applicant, for an applicant of the case)."""
    match actor.role:
        case Role.COORDINATOR:
            return cases.c.stage == Stage.SCREENING
        case Role.APPLICANT:
            return and_(cases.c.stage == Stage.AWAITING_APPLICANT_INFO, cases.c.applicant_org == actor.org)
        case Role.FUND_COMMITTEE:
            return cases.c.stage == Stage.INVESTMENT_DECISION
        case Role.OFFICE_OFFICER | Role.OFFICE_MANAGER:
            reviews = cases.c.snapshot["offices"]
            pending = or_(
                reviews.contains([{"office": actor.org, "review": "pending"}]),
                # a record that says nothing of the office's review (its owner altered it: no case) leaves it to
                # every office its row names, where it is listed as damaged, rather than to no one
                and_(cases.c.offices.contains([actor.org]),
                     not_(func.coalesce(reviews.contains([{"office": actor.org}]), false()))),
            )
            return or_(
                and_(cases.c.stage == Stage.OFFICE_REVIEW, pending),
                and_(cases.c.stage.in_([Stage.MATCHING, Stage.FUND_CONSIDERATION]), cases.c.lead_office == actor.org),
            )
        case _:
            return false()


def in_queue_of(actor: Actor) -> ColumnElement[bool]:
    """The actor's queue: what waits on their organisation and, for an office, nobody has claimed yet."""
    if actor.role in (Role.OFFICE_OFFICER, Role.OFFICE_MANAGER):
        return and_(waits_on(actor), cases.c.assignee.is_(None))
    return waits_on(actor)
