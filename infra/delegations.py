"""Delegations as stored (`delegations`): one per delegator; the people come from `users`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql import Select

from domain.delegation import Delegation
from domain.model import Actor, Role
from infra.tables import delegations, users

delegators = users.alias("delegator")
delegates = users.alias("delegate")


def _query() -> Select[tuple[object, ...]]:
    return select(
        delegators.c.id, delegators.c.name, delegators.c.role, delegators.c.org,
        delegates.c.id, delegates.c.name, delegates.c.role, delegates.c.org,
        delegations.c.starts_at, delegations.c.ends_at,
    ).select_from(
        delegations.join(delegators, delegators.c.id == delegations.c.delegator_id)
        .join(delegates, delegates.c.id == delegations.c.delegate_id)
    )


def _delegation(row: tuple[object, ...]) -> Delegation:
    def actor(values: tuple[object, ...]) -> Actor:
        return Actor(id=str(values[0]), name=str(values[1]), role=Role(str(values[2])), org=str(values[3]))

    return Delegation(delegator=actor(row[0:4]), delegate=actor(row[4:8]), starts_at=row[8], ends_at=row[9])


async def save_delegation(sessions: async_sessionmaker[AsyncSession], delegator_id: str, delegate_id: str,
                          starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    """The delegator's delegation from now on (replacing any earlier one)."""
    row = {"delegator_id": delegator_id, "delegate_id": delegate_id, "starts_at": starts_at, "ends_at": ends_at,
           "created_at": now}
    upsert = insert(delegations).values(row)
    async with sessions.begin() as session:
        await session.execute(upsert.on_conflict_do_update(
            index_elements=[delegations.c.delegator_id], set_={k: upsert.excluded[k] for k in row}
        ))


async def drop_delegation(sessions: async_sessionmaker[AsyncSession], delegator_id: str) -> bool:
    """Cancel the delegator's delegation; False when there was none."""
    async with sessions.begin() as session:
        result = await session.execute(delete(delegations).where(delegations.c.delegator_id == delegator_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def delegation_of(sessions: async_sessionmaker[AsyncSession], delegator_id: str,
                        now: datetime) -> Delegation | None:
    """The delegator's delegation, unless it has ended."""
    query = _query().where(delegations.c.delegator_id == delegator_id, delegations.c.ends_at > now)
    async with sessions() as session:
        row = (await session.execute(query)).first()
    return _delegation(tuple(row)) if row is not None else None


async def standing_in_for(sessions: async_sessionmaker[AsyncSession], delegate_id: str,
                          at: datetime) -> list[Delegation]:
    """The delegations in force at `at` under which this person stands in for someone."""
    query = _query().where(
        and_(delegations.c.delegate_id == delegate_id, delegations.c.starts_at <= at, delegations.c.ends_at > at),
        delegators.c.revoked_at.is_(None),
    ).order_by(delegators.c.name)
    async with sessions() as session:
        return [_delegation(tuple(row)) for row in (await session.execute(query)).all()]
