"""A request that cannot get a working connection from the pool is a 503 ("try again shortly"), never a 500: the
server dropping a connection while SQLAlchemy sets it up (asyncpg's own `InterfaceError`, which SQLAlchemy passes
on unwrapped), and a pool whose every connection is busy past its timeout. Seen with backends terminated under
load (every request's first statement, the token read, draws a connection)."""

from __future__ import annotations

import asyncpg
import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from temporalio.client import Client

from api.app import create_app
from domain.model import JETRO, Role
from infra.db import session_factory
from infra.settings import Settings
from infra.users import NewUser, add_user
from services.context import Services
from tests.helpers.support import PEPPER


async def _me(engine: AsyncEngine, own: AsyncEngine, settings: Settings, temporal: Client) -> httpx.Response:
    _, token = await add_user(session_factory(engine), NewUser("Pool Drawn", Role.COORDINATOR, JETRO), PEPPER)
    app = create_app(Services(settings, own, session_factory(own), temporal))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk") as http:
        return await http.get("/api/me", headers={"Authorization": f"Bearer {token}"})


async def test_a_connection_dropped_while_it_is_set_up_answers_503(
    engine: AsyncEngine, settings: Settings, temporal: Client,
) -> None:
    url = engine.url

    async def dropped_at_once() -> asyncpg.Connection:
        conn = await asyncpg.connect(host=url.host or url.query.get("host"), port=url.port or url.query.get("port"),
                                     user=url.username, password=url.password, database=url.database)
        conn.terminate()  # as the server's pg_terminate_backend does before SQLAlchemy's codecs are set
        return conn

    own = create_async_engine("postgresql+asyncpg://", async_creator=dropped_at_once, pool_size=1, max_overflow=0)
    try:
        answer = await _me(engine, own, settings, temporal)
        assert answer.status_code == 503, answer.text
    finally:
        await own.dispose()


async def test_a_pool_busy_past_its_timeout_answers_503(engine: AsyncEngine, settings: Settings,
                                                         temporal: Client) -> None:
    own = create_async_engine(engine.url.render_as_string(hide_password=False), pool_size=1, max_overflow=0,
                              pool_timeout=0.2)
    try:
        async with own.connect() as busy:
            await busy.execute(text("SELECT 1"))
            answer = await _me(engine, own, settings, temporal)
        assert answer.status_code == 503, answer.text
    finally:
        await own.dispose()
