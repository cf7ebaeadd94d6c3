"""The people the tests act as, each defined once, in the two forms the tests need.

A `Person` is a demo user as the HTTP tests sign in: its (role, org), the key of its bearer token in the
`tokens` fixture (`Desk` acts as one). An `Actor` (domain.model) is a person as the domain rules and the
workflow see it; the tests below the API (rules, transitions, workflow Updates, activities) pass those,
and their names end in `_actor` / `_ACTOR`.
"""

from __future__ import annotations

from domain.model import FUND, JETRO, OPERATOR, OVERSIGHT, Actor, Office, Role

Person = tuple[Role, str]

# The three offices, short.
SJ, SCB, SBIC = Office.SME_SUPPORT_JAPAN, Office.SHOKO_CHUKIN_BANK, Office.SBIC

# (role, org) of every demo person the HTTP tests act as.
APPLICANT: Person = (Role.APPLICANT, "acme-gmbh")
COORDINATOR: Person = (Role.COORDINATOR, JETRO)
FUND_MEMBER: Person = (Role.FUND_COMMITTEE, FUND)
AUDITOR: Person = (Role.AUDITOR, OVERSIGHT)
ADMIN: Person = (Role.ADMIN, OPERATOR)


def officer(office: Office) -> Person:
    return (Role.OFFICE_OFFICER, office)


def manager(office: Office) -> Person:
    return (Role.OFFICE_MANAGER, office)


# The same kind of people as domain actors, for the tests that act below the API.
def actor(role: Role, org: str, who: str) -> Actor:
    return Actor(id=f"u-{who}", name=who.replace("-", " ").title(), role=role, org=org)


def officer_actor(office: Office) -> Actor:
    return actor(Role.OFFICE_OFFICER, office, f"officer-{office}")


def manager_actor(office: Office) -> Actor:
    return actor(Role.OFFICE_MANAGER, office, f"manager-{office}")


APPLICANT_ACTOR = actor(Role.APPLICANT, "acme-gmbh", "anna-schmidt")
OTHER_APPLICANT_ACTOR = actor(Role.APPLICANT, "globex-inc", "hank-scorpio")
COORDINATOR_ACTOR = actor(Role.COORDINATOR, JETRO, "kenji-sato")
FUND_A_ACTOR = actor(Role.FUND_COMMITTEE, FUND, "fund-aoki")
FUND_B_ACTOR = actor(Role.FUND_COMMITTEE, FUND, "fund-baba")
AUDITOR_ACTOR = actor(Role.AUDITOR, OVERSIGHT, "audrey-ito")
ADMIN_ACTOR = actor(Role.ADMIN, OPERATOR, "ops-ueda")
