"""`alliance …` run as a person runs it: a real process against a test's database, with no other service's
variables from the environment the tests run in."""

from __future__ import annotations

import os
import subprocess

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers.support import BIN


def alliance(engine: AsyncEngine, *args: str, temporal: str | None = None,
             **variables: str) -> subprocess.CompletedProcess[str]:
    """`alliance ARGS` against the engine's database and, when given, the Temporal server at `temporal` (host:port),
    with `variables` set in its environment too."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("DATABASE_", "TEMPORAL_", "SMTP_"))}
    env.update(DATABASE_URL=engine.url.render_as_string(hide_password=False), COLUMNS="200", LOG_LEVEL="WARNING",
               **variables)
    if temporal is not None:
        env.update(TEMPORAL_ADDRESS=temporal)
    return subprocess.run([str(BIN / "alliance"), *args], capture_output=True, text=True, env=env, timeout=120,
                          check=False)
