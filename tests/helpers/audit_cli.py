"""`alliance` commands run as an operator would, against a test's database and checkpoint log."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.settings import Settings


async def alliance(engine: AsyncEngine, settings: Settings, log: Path, *args: str,
                   env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`alliance …` against the test database, with the tests' signing key and the checkpoint log `log` (and
    the variables `env` besides)."""
    env = {**os.environ, "DATABASE_URL": engine.url.render_as_string(hide_password=False), "COLUMNS": "200",
           "TOKEN_PEPPER": settings.token_pepper.get_secret_value(), "AUDIT_CHECKPOINT_LOG": str(log), **(env or {})}
    return await asyncio.to_thread(
        subprocess.run, [str(Path(sys.executable).parent / "alliance"), *args], env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )


async def as_table_owner(engine: AsyncEngine, statement: str, **params: object) -> None:
    """Run `statement` on audit_events as its owner would: the append-only guard off for that moment only."""
    async with engine.begin() as conn:
        await conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete"))
        await conn.execute(text(statement), params)
        await conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete"))
