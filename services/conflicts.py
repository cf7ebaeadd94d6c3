"""Conflicts of interest (issue 21): a fund committee member declares one; members read theirs, auditors all.

Who may is `domain.team_rules.CONFLICT_DECLARERS` / `CONFLICT_READERS`; what a declaration does is
`domain.conflicts.conflicted`.
"""

from __future__ import annotations

import structlog

from domain.conflicts import Conflict, ConflictDeclaration
from domain.errors import Forbidden, InvalidInput
from domain.model import Actor
from domain.team_rules import CONFLICT_DECLARERS, CONFLICT_READERS
from infra.conflicts import declare_conflict, declared
from services.context import Services

log = structlog.get_logger(__name__)
LISTED = 1000
"""The most declarations one answer lists (newest first)."""
MOST_PER_MEMBER = 500
"""The most conflicts of interest one member may declare: each is loaded with them at every request and weighed
for every case they open; a committee member of the scheme has a few dozen at most."""


async def declare(services: Services, actor: Actor, declaration: ConflictDeclaration) -> Conflict:
    """Keep the caller's declaration (never the stand-in's: a conflict is one's own)."""
    if actor.on_behalf_of is not None or actor.role not in CONFLICT_DECLARERS:
        raise Forbidden("only a fund committee member declares their own conflicts of interest")
    kept = await declare_conflict(services.sessions, actor, declaration.company, declaration.reason,
                                  at_most=MOST_PER_MEMBER)
    if kept is None:
        raise InvalidInput([{"loc": ["body", "company"], "type": "too_many",
                             "msg": f"at most {MOST_PER_MEMBER} conflicts of interest per member, and "
                                    f"{MOST_PER_MEMBER} are declared already"}])
    log.info("conflict of interest declared", company=declaration.company)
    return kept


async def my_conflicts(services: Services, actor: Actor) -> list[Conflict]:
    if actor.role not in CONFLICT_DECLARERS:
        raise Forbidden("only fund committee members declare conflicts of interest")
    return await declared(services.sessions, actor.id, LISTED)


async def register(services: Services, actor: Actor) -> list[Conflict]:
    """Every declaration, newest first: for auditors."""
    if actor.role not in CONFLICT_READERS:
        raise Forbidden("the register of conflicts of interest is for auditors")
    return await declared(services.sessions, None, LISTED)
