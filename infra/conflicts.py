"""Declared conflicts of interest as stored (`conflicts`, append-only): kept, listed, and loaded with a person."""

from __future__ import annotations

from sqlalchemy import Text, cast, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.conflicts import Conflict
from domain.model import Actor, Role
from infra.tables import conflicts, users


async def declare_conflict(sessions: async_sessionmaker[AsyncSession], member: Actor, company: str,
                           reason: str, *, at_most: int) -> Conflict | None:
    """Keep the declaration, unless the member has declared `at_most` already (then None, nothing kept). Two
    declarations of one member at once are counted one after the other (a lock on the member for the transaction)."""
    row = {"member_id": member.id, "member_name": member.name, "company": company, "reason": reason}
    async with sessions.begin() as session:
        await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"conflicts:{member.id}"))))
        held = await session.scalar(select(func.count()).select_from(conflicts)
                                    .where(conflicts.c.member_id == member.id))
        if (held or 0) >= at_most:
            return None
        declared_at = await session.scalar(insert(conflicts).values(row).returning(conflicts.c.declared_at))
    return Conflict(member=member, company=company, reason=reason, declared_at=declared_at)


async def conflicts_of(sessions: async_sessionmaker[AsyncSession], member_id: str) -> frozenset[str]:
    """The companies the member declared a conflict with."""
    async with sessions() as session:
        found = await session.scalars(select(conflicts.c.company).where(conflicts.c.member_id == member_id))
        return frozenset(found)


async def declared(sessions: async_sessionmaker[AsyncSession], member_id: str | None, limit: int) -> list[Conflict]:
    """The declarations, newest first: one member's, or (None) everyone's."""
    member = cast(users.c.id, Text) == conflicts.c.member_id
    query = select(conflicts, users.c.role, users.c.org).join(users, member, isouter=True)
    if member_id is not None:
        query = query.where(conflicts.c.member_id == member_id)
    async with sessions() as session:
        rows = (await session.execute(query.order_by(conflicts.c.id.desc()).limit(limit))).all()
    return [Conflict(member=Actor(id=r.member_id, name=r.member_name, role=Role(r.role or Role.FUND_COMMITTEE),
                                  org=r.org or ""), company=r.company, reason=r.reason, declared_at=r.declared_at)
            for r in rows]


async def with_conflicts(sessions: async_sessionmaker[AsyncSession], actor: Actor) -> Actor:
    """The person with the conflicts they declared (only fund committee members declare any)."""
    if actor.role != Role.FUND_COMMITTEE:
        return actor
    return actor.model_copy(update={"conflicts": await conflicts_of(sessions, actor.id)})
