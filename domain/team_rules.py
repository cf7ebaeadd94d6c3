"""Rules of team work (issue 21): who reassigns a person's cases in bulk, declares and reads conflicts of interest,
reads the service-level reports and finds colleagues — each decided here once. What a declared conflict does to a
case (it is not seen, so not decided) is part of seeing a case: `domain.conflicts.conflicted`, asked by `can_see`."""

from __future__ import annotations

from domain.model import Actor, Role, a_role
from domain.rules import AUDITORS, CASE_MANAGERS, DELEGATORS

BULK_REASSIGNERS = CASE_MANAGERS
"""Who moves a person's open cases to a colleague at once (issue 21): office managers, of their own office's people;
coordinators, of anyone's. Auditors may also read what such a reassignment did."""


def bulk_reassignment_refusal(actor: Actor, of_org: str | None = None) -> str | None:
    """Why the caller may not reassign in bulk the cases of a person of `of_org` (403; None: of anyone their role
    may), or None. Standing in for someone, both of them must be entitled (as `check`); the office is the
    delegator's."""
    for person in (actor, actor.principal):
        if person.role not in BULK_REASSIGNERS:
            return f"{a_role(person.role)} may not reassign cases in bulk"
    if actor.principal.role == Role.OFFICE_MANAGER and of_org not in (None, actor.principal.org):
        return f"a manager reassigns the cases of their own office ({actor.principal.org}) only"
    return None


def may_read_reassignment(actor: Actor, of_org: str) -> bool:
    """Who sees a bulk reassignment's progress and results: whoever may start one for that office, and auditors."""
    return actor.role in AUDITORS or bulk_reassignment_refusal(actor, of_org) is None


CONFLICT_DECLARERS = frozenset({Role.FUND_COMMITTEE})
"""Who declares conflicts of interest with companies (issue 21): the fund committee, which decides investments."""
CONFLICT_READERS = AUDITORS
"""Who reads every declared conflict; a member reads their own."""


REPORT_READERS = CASE_MANAGERS | AUDITORS
"""Who reads the service-level reports (issue 21): office managers (their office's), coordinators and auditors (all)."""


def report_refusal(actor: Actor, office: str | None) -> str | None:
    """Why the caller may not read the figures of `office` (None: of all), or None."""
    if actor.role not in REPORT_READERS:
        return f"{a_role(actor.role)} does not read the service-level reports"
    if actor.role == Role.OFFICE_MANAGER and office not in (None, actor.org):
        return f"a manager reads the figures of their own office ({actor.org}) only"
    return None


def report_scope(actor: Actor, office: str | None) -> str | None:
    """Whose figures a report shows the caller: a manager's own office's, anyone else's choice (None: all)."""
    return actor.org if actor.role == Role.OFFICE_MANAGER else office


def may_list_people_of(actor: Actor, org: str) -> bool:
    """Staff find the people of their own organisation; JETRO, which relays to every office, those of any."""
    return actor.role in DELEGATORS and (actor.role == Role.COORDINATOR or org == actor.org)
