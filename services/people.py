"""Who the caller is, their colleagues, and standing in for one another while away (issue 21).

Rules come from `domain.delegation` and `domain.rules`; refusals are `domain.errors`, mapped to HTTP once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from domain.delegation import Delegation, DelegationRequest, delegation_problems
from domain.errors import Forbidden, InvalidInput
from domain.model import Actor, Role, a_role
from domain.rules import DELEGATORS
from domain.team_rules import may_list_people_of
from infra.conflicts import with_conflicts
from infra.delegations import delegation_of, drop_delegation, save_delegation, standing_in_for
from infra.users import Person, people_of, person
from services.context import Services

log = structlog.get_logger(__name__)
ON_BEHALF_OF = "On-Behalf-Of"
"""The request header naming the user id of the person a delegate stands in for."""


@dataclass(frozen=True)
class Me:
    """`GET /api/me`: the caller, their delegation (to someone) and the people they stand in for now."""

    person: Person
    delegation: Delegation | None
    standing_in_for: list[Delegation]


def as_actor(found: Person) -> Actor:
    """A stored person as the `Actor` the rules judge."""
    return Actor(id=found.id, name=found.name, role=Role(found.role), org=found.org)


async def who_am_i(services: Services, actor: Actor) -> Me:
    found = await person(services.sessions, actor.id)
    if found is None:  # the token was valid a moment ago: revoked meanwhile
        raise Forbidden("your account was revoked")
    now = datetime.now(UTC)
    return Me(found, await delegation_of(services.sessions, actor.id, now),
              await standing_in_for(services.sessions, actor.id, now))


async def colleagues(services: Services, actor: Actor, org: str | None, *, revoked_too: bool = False) -> list[Person]:
    """The people of an organisation (the caller's own by default): staff only (`rules.may_list_people_of`);
    `revoked_too`: those who have left as well (whose cases a bulk reassignment moves)."""
    wanted = org or actor.org
    if not may_list_people_of(actor, wanted):
        raise Forbidden("staff find the people of their own organisation (JETRO: of any)")
    return await people_of(services.sessions, wanted, revoked_too=revoked_too)


async def delegate(services: Services, actor: Actor, request: DelegationRequest) -> Delegation:
    """Name a colleague to stand in for the caller in a period (replacing any delegation of theirs)."""
    if actor.role not in DELEGATORS:
        raise Forbidden(f"{a_role(actor.role)} may not delegate")
    chosen = await person(services.sessions, request.delegate)
    now = datetime.now(UTC)
    wrong = delegation_problems(actor, as_actor(chosen) if chosen else None, request, now)
    if wrong:
        raise InvalidInput([{"loc": ["body", field], "msg": msg, "type": "value_error"} for field, msg in wrong],
                           "Invalid delegation")
    await save_delegation(services.sessions, actor.id, request.delegate, request.starts_at, request.ends_at, now)
    log.info("delegation saved", delegate=request.delegate, until=request.ends_at.isoformat())
    saved = await delegation_of(services.sessions, actor.id, now)
    assert saved is not None
    return saved


async def cancel_delegation(services: Services, actor: Actor) -> bool:
    """End the caller's delegation now; False when they had none."""
    cancelled = await drop_delegation(services.sessions, actor.id)
    log.info("delegation cancelled", had_one=cancelled)
    return cancelled


async def stand_in(services: Services, actor: Actor, delegator_id: str) -> Actor:
    """The caller standing in for `delegator_id`, under a delegation in force now; `Forbidden` without one."""
    for delegation in await standing_in_for(services.sessions, actor.id, datetime.now(UTC)):
        if delegation.delegator.id == delegator_id:
            delegator = await with_conflicts(services.sessions, delegation.delegator)
            return actor.model_copy(update={"on_behalf_of": delegator})
    raise Forbidden(f"no delegation in force lets you act for {delegator_id}")
