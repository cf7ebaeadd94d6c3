"""Whether the plumbing answers: the health probes, and which database failures mean "not now" (a 503 to try
again shortly) rather than a fault of ours (a 500)."""

from __future__ import annotations

import asyncio

import asyncpg
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from services.context import Services

PROBE_TIMEOUT = 3.0
UNAVAILABLE_SQLSTATE_CLASSES = frozenset({"08", "53", "57"})

DatabaseError = DBAPIError
"""What the database driver raises, wrapped by SQLAlchemy: `database_unavailable` says which kind it is."""


def database_unavailable(error: DatabaseError) -> bool:
    """Whether the database cannot serve now (a transient outage), as opposed to a statement that failed."""
    return error.connection_invalidated or isinstance(error, OperationalError) or _not_now_sqlstate(error.orig)


UNWRAPPED_DRIVER_ERRORS: tuple[type[Exception], ...] = (asyncpg.InterfaceError, asyncpg.PostgresError)
"""What the driver raises that SQLAlchemy may pass on unwrapped: `unwrapped_unavailable` says which kind it is."""
POOL_TIMEOUT = PoolTimeout
"""Every pooled connection stayed busy past `db_pool_timeout`: the database cannot serve now."""


def unwrapped_unavailable(error: Exception) -> bool:
    """Whether an asyncpg error SQLAlchemy passed on unwrapped means the database cannot serve now. SQLAlchemy wraps
    what its statements raise (and `infra.db.driver_rows` what the driver's do), but not what the driver raises
    while the pool sets a new connection up (the dialect's type codecs): a connection the server drops then (a
    restart, `pg_terminate_backend`) is asyncpg's `InterfaceError` ("connection is closed"), and a server
    starting up or shutting down answers with SQLSTATE class 57."""
    return isinstance(error, asyncpg.InterfaceError) or _not_now_sqlstate(error)


def _not_now_sqlstate(error: object) -> bool:
    """Whether the driver's error carries a SQLSTATE of class 08 (connection exception), 53 (insufficient
    resources) or 57 (operator intervention: shutting down, starting up): the server cannot serve now, whatever
    exception class carries it."""
    return str(getattr(error, "sqlstate", None) or "")[:2] in UNAVAILABLE_SQLSTATE_CLASSES


async def database_up(services: Services) -> bool:
    try:
        async with services.engine.connect() as conn:
            await asyncio.wait_for(conn.execute(text("SELECT 1")), PROBE_TIMEOUT)
        return True
    except Exception:
        return False


async def temporal_up(services: Services) -> bool:
    try:
        return await asyncio.wait_for(services.temporal.service_client.check_health(), PROBE_TIMEOUT)
    except Exception:
        return False
