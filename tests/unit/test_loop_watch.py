"""The watch on an event loop (`app.loop_watch`): code that holds the loop is named with its stack, the loop's
release is told, a loop only ever briefly busy says nothing, and a loop held for good ends its process."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from app.loop_watch import EXIT_HELD, LoopWatch, watching_loop


def hold_the_loop(seconds: float) -> None:
    time.sleep(seconds)  # a blocking call where a coroutine should await


def events(logs: list[MutableMapping[str, Any]], name: str) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == name]


async def test_code_holding_the_loop_is_named_with_its_stack_and_the_release_told() -> None:
    with capture_logs() as logs:
        async with watching_loop(LoopWatch(warn_after=0.3, give_up_after=100)):
            await asyncio.sleep(0.3)
            hold_the_loop(1.2)
            await asyncio.sleep(0.8)
    (held,) = events(logs, "the event loop has been held")
    (freed,) = events(logs, "the event loop is free again")
    assert held["log_level"] == "error"
    assert 0.3 <= held["held_seconds"] < 1.2
    assert "hold_the_loop" in held["stack"] and "time.sleep(seconds)" in held["stack"]
    assert 1.2 <= freed["held_seconds"] < 2.5


async def test_a_loop_only_briefly_busy_says_nothing() -> None:
    with capture_logs() as logs:
        async with watching_loop(LoopWatch(warn_after=1.0, give_up_after=100)):
            for _ in range(20):
                hold_the_loop(0.05)
                await asyncio.sleep(0.05)
    assert events(logs, "the event loop has been held") == []


def test_a_loop_held_for_good_ends_its_process_naming_what_holds_it() -> None:
    """A real process whose loop is held: it ends with EXIT_HELD soon after the limit, and its log names the
    blocking call (structlog's default output, as a process that configured none prints it)."""
    script = textwrap.dedent("""
        import asyncio, time
        from app.loop_watch import LoopWatch, watching_loop

        def wait_for_a_lock_never_released():
            time.sleep(60)

        async def main():
            async with watching_loop(LoopWatch(warn_after=0.2, give_up_after=1.0)):
                await asyncio.sleep(0.1)
                wait_for_a_lock_never_released()

        asyncio.run(main())
    """)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30,
                          cwd=Path(__file__).parents[2])
    took = time.monotonic() - started
    assert done.returncode == EXIT_HELD, done.stdout + done.stderr
    assert took < 15
    out = done.stdout + done.stderr
    assert "the event loop is held for good" in out
    assert "wait_for_a_lock_never_released" in out

