"""Migrations up and down on a real PostgreSQL, and the append-only guard they install."""

from __future__ import annotations

from sqlalchemy import inspect, text

from infra import migrate
from infra.db import create_engine
from infra.settings import Settings


async def _tables(url: str, settings: Settings) -> set[str]:
    engine = create_engine(settings, url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def test_upgrade_to_head_then_down_to_base_and_up_again(empty_database: str, settings: Settings) -> None:
    engine = create_engine(settings, empty_database)
    try:
        await migrate.upgrade(engine)
        assert await migrate.current_revision(engine) == "0018"
        assert {"users", "cases", "audit_events", "smes", "notifications"} <= await _tables(empty_database, settings)

        await migrate.downgrade(engine, "base")
        assert await migrate.current_revision(engine) is None
        assert await _tables(empty_database, settings) == {"alembic_version"}

        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            triggers = (await conn.execute(text(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_events'::regclass AND NOT tgisinternal"
            ))).scalars().all()
        assert set(triggers) == {"audit_events_no_update_delete", "audit_events_no_truncate"}
    finally:
        await engine.dispose()


async def test_upgrade_is_idempotent(empty_database: str, settings: Settings) -> None:
    engine = create_engine(settings, empty_database)
    try:
        await migrate.upgrade(engine)
        await migrate.upgrade(engine)
        assert await migrate.current_revision(engine) == "0018"
    finally:
        await engine.dispose()
