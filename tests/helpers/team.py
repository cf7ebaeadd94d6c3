"""An office of two officers on a database of its own, for the tests of queues and claiming (issue 21).

Queues are per office and the session's database is shared by every test, so a test that asserts what is "most
urgent" in an office's queue needs a database where only its own cases wait.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.app import create_app
from app.bootstrap import mail_relay
from domain.model import Role
from infra import migrate
from infra.db import create_engine, session_factory
from infra.settings import Settings
from infra.sme_registry import seed_demo_smes
from infra.users import NewUser, add_user, ensure_demo_users
from services.context import Services
from tests.helpers.desk import Desk
from tests.helpers.forms import csrf_of
from tests.helpers.people import SBIC, Person
from tests.helpers.support import PEPPER
from workers.case_worker import build_worker

SECOND_OFFICER: Person = (Role.OFFICE_OFFICER, f"{SBIC}#2")
"""Another officer of SBIC (the key of its token; its organisation is SBIC)."""


@dataclass
class Team(Desk):
    """The desk of the team's database, and its app (for the console's browsers)."""

    app: FastAPI | None = None
    sessions: async_sessionmaker[AsyncSession] | None = None
    engine: AsyncEngine | None = None

    @asynccontextmanager
    async def browser(self, person: Person) -> AsyncIterator[httpx.AsyncClient]:
        """A browser with the person signed in to the console."""
        assert self.app is not None
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://desk") as browser:
            form = await browser.get("/signin")
            signed = await browser.post("/signin", data={"token": self.tokens[person],
                                                         "csrf_token": csrf_of(form.text)})
            assert signed.status_code == 303, signed.text
            yield browser


@asynccontextmanager
async def team_desk(client: Client, settings: Settings, database_url: str, *, worker: bool = True
                    ) -> AsyncIterator[Team]:
    """The real app and a case worker on a fresh database, migrated to head here (nothing to do on a
    `migrated_database`), with the demo people and `SECOND_OFFICER`;
    without `worker`, the test runs its own workers (`Team.engine` is the database's engine)."""
    engine = create_engine(settings, database_url)
    try:
        await migrate.upgrade(engine)
        sessions = session_factory(engine)
        tokens = {(user.role, user.org): token for user, token in await ensure_demo_users(sessions, PEPPER)}
        _, tokens[SECOND_OFFICER] = await add_user(sessions, NewUser("Second officer", Role.OFFICE_OFFICER, SBIC),
                                                   PEPPER)
        await seed_demo_smes(engine)
        app = create_app(Services(settings, engine, sessions, client))
        async with AsyncExitStack() as running:
            if worker:
                await running.enter_async_context(
                    build_worker(client, settings.temporal_task_queue, engine, keys=settings.audit_keys))
            await running.enter_async_context(mail_relay(settings, engine, client).running())
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk") as http:
                yield Team(http, tokens, app, sessions, engine)
    finally:
        await engine.dispose()
