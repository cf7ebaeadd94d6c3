"""The watch on an event loop (`app.loop_watch`): code that holds the loop is named with its stack, the loop's
release is told, a loop only ever briefly busy says nothing, and a loop held for good ends its process."""

from __future__ import annotations

import asyncio
import signal
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
            hold_the_loop(3.0)  # long beside the warning: a busy machine may keep the watch from looking a while
            await asyncio.sleep(0.8)
    (held,) = events(logs, "the event loop has been held")
    (freed,) = events(logs, "the event loop is free again")
    assert held["log_level"] == "error"
    assert 0.3 <= held["held_seconds"] < 3.0
    assert "hold_the_loop" in held["stack"] and "time.sleep(seconds)" in held["stack"]
    assert 3.0 <= freed["held_seconds"] < 5.0


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



def run_script(body: str, *, stop_for: float = 0.0) -> tuple[int, str, float]:
    """Run `body` (Python, with the repository importable) as a process of its own: its exit status, output and
    seconds taken. With `stop_for`, the process is stopped (SIGSTOP) that long once it has printed `ready`."""
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(body)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, cwd=Path(__file__).parents[2])
    assert process.stdout is not None
    lines = [process.stdout.readline()]
    if stop_for:
        assert lines[0].strip() == "ready", lines
        process.send_signal(signal.SIGSTOP)
        time.sleep(stop_for)
        process.send_signal(signal.SIGCONT)
    out, _ = process.communicate(timeout=30)
    return process.returncode, "".join(lines) + out, time.monotonic() - started


def test_a_process_stopped_for_a_while_is_not_a_held_loop() -> None:
    """SIGSTOP (Ctrl-Z, a debugger, a paused machine) for longer than the limit: the loop was never held, so the
    process neither warns nor ends when it goes on."""
    code, out, _ = run_script("""
        import asyncio
        from app.loop_watch import LoopWatch, watching_loop

        async def main():
            async with watching_loop(LoopWatch(warn_after=0.3, give_up_after=1.0)):
                await asyncio.sleep(0.5)
                print("ready", flush=True)
                await asyncio.sleep(1.5)
            print("done", flush=True)

        asyncio.run(main())
    """, stop_for=2.5)
    assert code == 0, out
    assert "done" in out and "held" not in out, out


def test_a_loop_held_by_its_own_logging_still_ends_the_process() -> None:
    """The loop blocks inside a log call (a log pipe nobody reads): the watch's own log lines then block too, and
    the process ends with EXIT_HELD all the same, `EXIT_GRACE` after the limit."""
    code, out, took = run_script("""
        import asyncio, logging, threading
        import structlog
        from app.loop_watch import LoopWatch, watching_loop

        never = threading.Event()

        class Stuck(logging.Handler):
            def emit(self, record):
                never.wait()  # a full pipe: the write never returns

        logging.basicConfig(handlers=[Stuck()], level=logging.INFO)
        structlog.configure(logger_factory=structlog.stdlib.LoggerFactory(),
                            processors=[structlog.stdlib.render_to_log_kwargs])

        async def main():
            async with watching_loop(LoopWatch(warn_after=0.3, give_up_after=1.0)):
                await asyncio.sleep(0.2)
                print("ready", flush=True)
                structlog.get_logger().info("a line the pipe never takes")

        asyncio.run(main())
    """)
    assert code == EXIT_HELD, out
    assert took < 1.0 + 5.0 + 10, took


async def test_a_long_call_that_keeps_pythons_lock_is_counted_not_taken_for_a_pause() -> None:
    """One C call that never lets go of Python's lock keeps the watch's thread asleep too, as a stopped process
    would; but the process spends CPU all along, so the whole hold is counted."""
    with capture_logs() as logs:
        async with watching_loop(LoopWatch(warn_after=0.3, give_up_after=100)):
            await asyncio.sleep(0.3)
            started = time.monotonic()
            sum(range(10**8))  # about 1.4 s here, in C, the lock kept throughout
            in_c = time.monotonic() - started
            hold_the_loop(0.8)  # the watch runs again while the loop is still held
            await asyncio.sleep(0.5)
    (held,) = events(logs, "the event loop has been held")
    assert in_c > 1.0, in_c
    assert held["held_seconds"] >= in_c - 0.3, (held, in_c)
