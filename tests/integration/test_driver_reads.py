"""The reads the driver runs itself (`infra.db.driver_row`: every request's token, every action's case) on a
connection the server dropped (a restart, a proxy closing idle connections): a 503 once, as a statement through
SQLAlchemy is, and the connection leaves the pool; never a 500, and never that connection again."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from temporalio.client import Client

from api.app import create_app
from domain.model import JETRO, Role
from infra.db import autocommit, driver_row, session_factory
from infra.settings import Settings
from infra.users import NewUser, add_user
from services.context import Services
from tests.helpers.support import PEPPER


async def test_a_connection_the_server_dropped_answers_503_once_and_leaves_the_pool(
    engine: AsyncEngine, settings: Settings, temporal: Client,
) -> None:
    own = create_async_engine(engine.url.render_as_string(hide_password=False), pool_size=1, max_overflow=0)
    sessions = session_factory(own)
    try:
        _, token = await add_user(sessions, NewUser("Dropped Once", Role.COORDINATOR, JETRO), PEPPER)
        app = create_app(Services(settings, own, sessions, temporal))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk") as http:
            me = {"Authorization": f"Bearer {token}"}
            assert (await http.get("/api/me", headers=me)).status_code == 200
            pid = (await driver_row(autocommit(own), "SELECT pg_backend_pid()"))[0]
            async with engine.connect() as conn:  # the server drops the pool's one connection
                await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                for _ in range(100):
                    if not await conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                                             {"pid": pid}):
                        break
                    await asyncio.sleep(0.05)
            dropped = await http.get("/api/me", headers=me)
            assert dropped.status_code == 503, dropped.text
            answers = [(await http.get("/api/me", headers=me)).status_code for _ in range(3)]
            assert answers == [200, 200, 200], "the dropped connection went back into the pool"
    finally:
        await own.dispose()
