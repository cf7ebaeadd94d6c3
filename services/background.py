"""Loops the worker runs beside its Temporal worker (the mail relay, the consent courier), as `async with` blocks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any


def utc_now() -> datetime:
    """The loops' default clock (tests give theirs to move time on)."""
    return datetime.now(UTC)


@contextlib.asynccontextmanager
async def at_work(run: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> AsyncIterator[None]:
    """`run(stop)` as a task for the `async with` block; on leaving it, `stop` is set and the task waited for."""
    stop = asyncio.Event()
    task = asyncio.create_task(run(stop))
    try:
        yield
    finally:
        stop.set()
        await task
