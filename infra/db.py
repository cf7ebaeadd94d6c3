"""Async engine and sessions; one engine per process, passed to whoever needs it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from infra.settings import Settings


def create_engine(settings: Settings, url: str | None = None) -> AsyncEngine:
    return create_async_engine(
        url or settings.effective_database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        # Replaced before a proxy or managed server drops them idle; dead ones are invalidated on first use (no ping).
        pool_recycle=settings.db_pool_recycle or -1,  # SQLAlchemy: -1 never recycles, 0 would recycle every checkout
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def autocommit(engine: AsyncEngine) -> AsyncEngine:
    """The engine on the same pool, its statements each committed on their own: no BEGIN and no ROLLBACK round
    trip around a lone read (about 0.2 ms of client CPU and two trips to the server each, measured for issue 15).
    Only for what one statement does: two statements through it are two transactions."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


async def driver_row(engine: AsyncEngine, sql: str, *args: object) -> Any:
    """The first row of `sql` (PostgreSQL's own text, parameters `$1`…) as the driver reads it (an asyncpg
    `Record`, None when there is none), run by the driver itself on a connection of `engine`'s pool, outside any
    transaction: for the lone statements every request makes (issue 15). SQLAlchemy's execution of a statement (its
    cache key, execution context and result processing) costs about 0.15 ms of CPU on this machine, more than the
    driver takes to send it and read the answer."""
    return await _on_driver(engine, sql, args, "fetchrow")


async def driver_rows(engine: AsyncEngine, sql: str, *args: object) -> list[Any]:
    """Every row of `sql`, as `driver_row` reads the first (for a statement that writes, those it returns)."""
    return list(await _on_driver(engine, sql, args, "fetch"))


async def _on_driver(engine: AsyncEngine, sql: str, args: tuple[object, ...], method: str) -> Any:
    async with engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        try:
            return await getattr(driver, method)(sql, *args)
        except Exception as error:
            # What SQLAlchemy does for its own statements: a connection the server or the network dropped leaves
            # the pool (else every request drawing it failed, for ever), and the error is a `DBAPIError`, which the
            # API answers 503 when the database is away (`services.availability`), not 500.
            dropped = driver.is_closed()
            if dropped:
                await conn.invalidate()
            raise DBAPIError.instance(sql, list(args), error, Exception, connection_invalidated=dropped) from error
