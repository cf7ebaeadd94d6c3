"""A case worker of `alliance run` in a process of its own (issue 15): the API and each worker get a core.

`alliance run` stays one command: it starts `RUN_WORKERS` of these, each `alliance worker` as its child, with
the same environment and working directory (so the same settings), its output going to the same terminal; starts
each again when it stops by itself (after 1 s, then up to 30 s between tries, and 1 s again once it had run 5
minutes); and stops them with the product (SIGTERM, the worker's own graceful stop, then SIGKILL if one is still
there after `within` seconds).
The child dies with `alliance run` even if that is killed outright (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time

import structlog

from app.processes import die_with_parent

log = structlog.get_logger(__name__)

FIRST_BACKOFF = 1.0
LONGEST_BACKOFF = 30.0
STEADY_SECONDS = 300.0
"""A worker that ran this long before it stopped is started again after FIRST_BACKOFF, not the last pause."""
COMMAND = [sys.executable, "-m", "app.cli", "worker"]
POLL_SECONDS = 0.2
"""How often a worker's exit is looked for: on the event loop, not by a thread blocked in wait() — asyncio's
default pool has min(32, cores + 4) threads, fewer than `RUN_WORKERS` may be, and the workers past them went
unwatched."""


async def ended(popen: subprocess.Popen[bytes], within: float | None = None) -> int:
    """The process's exit status once it has ended; TimeoutExpired if it is still running after `within` s."""
    deadline = None if within is None else time.monotonic() + within
    while (status := popen.poll()) is None:
        if deadline is not None and time.monotonic() >= deadline:
            raise subprocess.TimeoutExpired(popen.args, within or 0.0)
        await asyncio.sleep(POLL_SECONDS)
    return status


class WorkerProcess:
    def __init__(self, command: list[str] | None = None) -> None:
        self.command = command or COMMAND
        self.popen: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.started_at = 0.0

    def start(self) -> None:
        """Start the worker (from the event loop's thread: the death signal is tied to the starting thread)."""
        # A session of its own: Ctrl-C in the terminal reaches `alliance run`, which then stops the worker itself.
        self.popen = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent,
                                      start_new_session=True)
        self.starts += 1
        self.started_at = time.monotonic()

    async def supervise(self, stop: asyncio.Event) -> None:
        """Until `stop`: wait for the worker to end, and start it again when it ended by itself."""
        backoff = FIRST_BACKOFF
        while not stop.is_set() and self.popen is not None:
            exited = asyncio.create_task(ended(self.popen))
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait([exited, stopping], return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if stop.is_set():
                self.terminate()  # now, so the worker stops while the API does
                exited.cancel()
                return
            if time.monotonic() - self.started_at > STEADY_SECONDS:  # it had been running well: a fresh fault
                backoff = FIRST_BACKOFF
            log.error("the case worker stopped by itself; starting it again", exit_status=exited.result(),
                      in_seconds=backoff)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            if stop.is_set():
                return
            self.start()
            backoff = min(backoff * 2, LONGEST_BACKOFF)

    def terminate(self) -> None:
        """Ask the worker to stop gracefully (SIGTERM), without waiting."""
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)

    async def stop(self, within: float) -> None:
        """Ask the worker to stop (SIGTERM) and wait for it; SIGKILL it if it is still there after `within` s."""
        popen = self.popen
        if popen is None or popen.poll() is not None:
            return
        self.terminate()
        try:
            await ended(popen, within)
        except subprocess.TimeoutExpired:
            log.error("the case worker did not stop in time; killed", within_s=within)
            with contextlib.suppress(ProcessLookupError):
                popen.kill()
            await ended(popen, 5)
