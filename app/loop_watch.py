"""A watch on a process's event loop, kept by a thread of its own: code that holds the loop is named with its
stack, and a worker whose loop is held for good ends so that it is started again.

Everything a case worker does but its workflows' code (the activities, the mail relay, the incident scan, Temporal's
polls and heartbeats) shares one event loop, and so does everything the API serves. A blocking call or a long
computation with no `await` in any of them holds all the others, and nothing said so: the SDK's deadlock detection
only looks at workflow code. Past `HELD_WARNING` seconds the watch logs one error with the stack that holds the loop,
and once the loop is free again, how long it was held. A worker also gives up past `HELD_LIMIT` seconds: it logs the
stack again and ends with `EXIT_HELD`, since a worker held that long polls nothing, heartbeats nothing and answers no
Update; its tasks time out and Temporal hands them to a worker that runs (`alliance run` starts its own again, a
deployment's supervisor does the same), and the activity that held it is tried again, with its incident once its
tries mount. The API only warns: a request that holds it (a large evidence pack) ends by itself.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog

log = structlog.get_logger(__name__)

HELD_WARNING = 2.0
"""Seconds the loop may be held before the watch says so (the SDK's deadlock timeout for workflow code)."""
HELD_LIMIT = 60.0
"""Seconds after which a held loop ends the process: six times Temporal's default workflow task timeout (10 s),
by when every task the worker held has been given to another."""
EXIT_HELD = 70
"""The exit status of a process whose loop was held for `HELD_LIMIT` seconds (EX_SOFTWARE)."""
TICK = 0.25
"""Seconds between the loop's beats, and between the watch's looks at them."""
PAUSE = 1.0
"""Seconds past its tick after which the watch's own sleep, with the process using less than a tenth of that time of
CPU,
means that the whole process was stopped (SIGSTOP, a debugger, a paused machine) rather than its loop held: the time
it stood still is not counted. A loop thread that keeps Python's lock inside one long C call also keeps this thread
asleep, but spends CPU meanwhile: that time is counted."""
EXIT_GRACE = 5.0
"""Seconds a process that gives up waits for its last log line to be written before it ends all the same."""
STACK_FRAMES = 20
"""The innermost frames of the stack a log line shows (the outer ones are the same every time: the command, asyncio's
loop)."""
STACK_CHARS = 6_000
"""The most of a stack one log line carries (its innermost end)."""


class LoopWatch:
    """Watches the loop it is started on from a thread of its own (`watching_loop`)."""

    def __init__(self, *, warn_after: float = HELD_WARNING, give_up_after: float | None = HELD_LIMIT) -> None:
        """`give_up_after` None: only warn."""
        self.warn_after = warn_after
        self.give_up_after = give_up_after
        self._beat_at = time.monotonic()
        self._stopped = threading.Event()
        self._loop_thread = threading.get_ident()
        self._beating: asyncio.TimerHandle | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start beating on the running loop and watching from a thread (call from the loop's thread)."""
        self._loop_thread = threading.get_ident()
        self._beat()
        self._thread = threading.Thread(target=self._watch, name="loop-watch", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Stop beating and watching (from the loop's thread, as `start`)."""
        self._stopped.set()
        if self._beating is not None:
            self._beating.cancel()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)

    def _beat(self) -> None:
        self._beat_at = time.monotonic()
        self._beating = asyncio.get_running_loop().call_later(TICK, self._beat)

    def _watch(self) -> None:
        warned_at: float | None = None  # the beat the watch last warned about
        looked, spent = time.monotonic(), time.process_time()
        since = looked  # holding is counted from the last beat, or from the end of a pause of the whole process
        while not self._stopped.wait(TICK):
            now, cpu = time.monotonic(), time.process_time()
            if now - looked > TICK + PAUSE and cpu - spent < (now - looked) / 10:
                since = now  # this thread slept far too long and the process did not run: it was stopped
            looked, spent = now, cpu
            beat_at = self._beat_at
            if warned_at is not None and beat_at != warned_at:
                log.warning("the event loop is free again", held_seconds=round(now - warned_at, 1))
                warned_at = None
            held = now - max(beat_at, since) - TICK  # a beat is due every TICK
            if held < self.warn_after:
                continue
            if warned_at is None:
                warned_at = beat_at
                if self.give_up_after is not None:  # armed before logging, which may itself be what holds the loop
                    self._arm(beat_at, self.give_up_after - held)
                log.error("the event loop has been held", held_seconds=round(held, 1), stack=self._stack())

    def _arm(self, beat_at: float, seconds: float) -> None:
        timer = threading.Timer(max(0.0, seconds), self._give_up, args=(beat_at,))
        timer.daemon = True
        timer.start()

    def _give_up(self, beat_at: float) -> None:
        """The loop held since the beat at `beat_at` for `give_up_after` seconds: end the process, unless it beat
        since or the watch stopped. The process ends `EXIT_GRACE` seconds later even if the log cannot be written."""
        if self._stopped.is_set() or self._beat_at != beat_at:
            return
        ending = threading.Timer(EXIT_GRACE, os._exit, args=(EXIT_HELD,))
        ending.daemon = True
        ending.start()
        log.critical("the event loop is held for good: the process ends so that it is started again",
                     held_seconds=round(time.monotonic() - beat_at - TICK, 1), exit_status=EXIT_HELD,
                     stack=self._stack())
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_HELD)

    def _stack(self) -> str:
        """The loop thread's stack; when it only waits in its selector, its callbacks cannot run because another
        thread keeps Python's lock (or the machine gives the process no CPU): then every other thread's stack too."""
        frames = sys._current_frames()
        frame = frames.get(self._loop_thread)
        if frame is None:
            return ""
        stack = "".join(traceback.format_stack(frame, limit=STACK_FRAMES))
        if frame.f_code.co_filename.endswith("selectors.py"):
            names = {thread.ident: thread.name for thread in threading.enumerate()}
            others = [f"thread {names.get(ident, ident)}:\n" + "".join(traceback.format_stack(other, limit=8))
                      for ident, other in frames.items()
                      if ident not in (self._loop_thread, threading.get_ident())]
            stack = "the loop waits for Python's lock (another thread's) or for a CPU:\n" + "\n".join(others) + (
                "\nthe loop:\n" + stack)
        return stack[-STACK_CHARS:]


@asynccontextmanager
async def watching_loop(watch: LoopWatch | None = None) -> AsyncIterator[LoopWatch]:
    """Watch the running loop (`LoopWatch`, default limits) until the block ends."""
    watch = watch or LoopWatch()
    watch.start()
    try:
        yield watch
    finally:
        await watch.stop()
