"""Bearer tokens: stored only as hashes; expired and revoked tokens are refused at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.model import JETRO, Role
from infra.tables import users
from infra.users import NewUser, add_user, list_users, revoke_user
from tests.helpers.support import PEPPER


async def status(http: httpx.AsyncClient, token: str) -> int:
    return (await http.get("/api/cases", headers={"Authorization": f"Bearer {token}"})).status_code


async def test_tokens_are_stored_only_as_hashes(sessions: async_sessionmaker[AsyncSession]) -> None:
    user_id, token = await add_user(sessions, NewUser("Hashed", Role.COORDINATOR, JETRO), PEPPER)
    async with sessions() as session:
        stored = (await session.execute(select(users).where(users.c.id == user_id))).mappings().one()
    assert token not in {str(v) for v in stored.values()}
    assert len(stored["token_hash"]) == 64


async def test_an_expired_token_is_refused(http: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]) -> None:
    _, fresh = await add_user(sessions, NewUser("Fresh", Role.COORDINATOR, JETRO), PEPPER,
                              expires_at=datetime.now(UTC) + timedelta(days=1))
    _, stale = await add_user(sessions, NewUser("Stale", Role.COORDINATOR, JETRO), PEPPER,
                              expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert await status(http, fresh) == 200
    response = await http.get("/api/cases", headers={"Authorization": f"Bearer {stale}"})
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


async def test_a_revoked_token_is_refused_from_the_next_request(
    http: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    user_id, token = await add_user(sessions, NewUser("Leaver", Role.COORDINATOR, JETRO), PEPPER)
    assert await status(http, token) == 200
    assert await revoke_user(sessions, user_id) is True
    assert await status(http, token) == 401
    assert await revoke_user(sessions, user_id) is False  # already revoked
    listed = {u.id: u for u in await list_users(sessions)}
    assert listed[user_id].revoked_at is not None


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer ", "Token abc", "bearer\tabc"])
async def test_malformed_authorization_is_a_401_problem(http: httpx.AsyncClient, header: str) -> None:
    response = await http.get("/api/cases", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
