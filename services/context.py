"""What the API needs from the outside world, built once by whoever starts the app."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client

from infra.db import autocommit, session_factory
from infra.settings import Settings


@dataclass(frozen=True)
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    temporal: Client

    @functools.cached_property
    def lone_statements(self) -> AsyncEngine:
        """The engine for lone statements, on the same pool, without the BEGIN and ROLLBACK (or COMMIT) round
        trips a transaction costs (`infra.db.autocommit`): a read, or a write of one statement, which is atomic
        on its own (an access-log note, the texts of a step); never for several statements that must be atomic
        together (issue 15)."""
        return autocommit(self.engine)

    @functools.cached_property
    def reads(self) -> async_sessionmaker[AsyncSession]:
        """Sessions on `lone_statements`: for reads of one statement each."""
        return session_factory(self.lone_statements)
