"""Conflicts of interest (issue 21): a fund committee member declares one; members read theirs, auditors all.

Who may is `domain.team_rules.CONFLICT_DECLARERS` / `CONFLICT_READERS`; what a declaration does is
`domain.rules.conflicted`.
"""

from __future__ import annotations

import structlog

from domain.conflicts import Conflict, ConflictDeclaration
from domain.errors import Forbidden
from domain.model import Actor
from domain.team_rules import CONFLICT_DECLARERS, CONFLICT_READERS
from infra.conflicts import declare_conflict, declared
from services.context import Services

log = structlog.get_logger(__name__)
LISTED = 1000
"""The most declarations one answer lists (newest first)."""


async def declare(services: Services, actor: Actor, declaration: ConflictDeclaration) -> Conflict:
    """Keep the caller's declaration (never the stand-in's: a conflict is one's own)."""
    if actor.on_behalf_of is not None or actor.role not in CONFLICT_DECLARERS:
        raise Forbidden("only a fund committee member declares their own conflicts of interest")
    kept = await declare_conflict(services.sessions, actor, declaration.company, declaration.reason)
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
