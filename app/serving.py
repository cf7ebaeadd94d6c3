"""Serve the API and run workers inside one asyncio loop, stopping cleanly on SIGINT / SIGTERM.

Stopping is bounded: requests and activities get SHUTDOWN_GRACE to finish, the serving as a whole
SHUTDOWN_GRACE + 5 s, and the process (embedded servers included) is gone STOP_BOUND after the first signal,
even if a callback keeps the event loop busy all that time.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import os
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Generator
from datetime import timedelta
from types import FrameType

import uvicorn
from fastapi import FastAPI
from temporalio.worker import Worker

from app.loop_watch import HELD_LIMIT, LoopWatch, watching_loop

SHUTDOWN_GRACE = timedelta(seconds=10)
STOP_BOUND = timedelta(seconds=30)


class QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the runner owns Ctrl-C for every part at once."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def api_server(app: FastAPI, host: str, port: int) -> QuietServer:
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, lifespan="off",
        timeout_graceful_shutdown=int(SHUTDOWN_GRACE.total_seconds()),
    )
    return QuietServer(config)


def _say(line: str) -> None:
    """One line on stderr, written at once (no buffer, no logging: they may be what is stuck); never raises."""
    with contextlib.suppress(Exception):
        os.write(sys.stderr.fileno(), line.encode() + b"\n")


def _exit_after(bound: float, signal_name: str) -> None:
    """The watchdog: if the process is still here `bound` seconds after the stop signal, it exits now."""
    time.sleep(bound)
    _say(f"alliance: not stopped {bound:.0f}s after {signal_name}; exiting now. Where each thread was:")
    with contextlib.suppress(Exception):
        faulthandler.dump_traceback(all_threads=True)  # C code: bounded, needs no logging
    os._exit(1)


def stop_event() -> asyncio.Event:
    """An event set by the first SIGINT or SIGTERM; STOP_BOUND later the process is gone, come what may.

    These are Python signal handlers, not the loop's `add_signal_handler` callbacks: they run in the main thread
    between two bytecodes even while a callback holds the loop (a handler busy for minutes), where the loop's
    callback would wait its turn. The first signal asks the loop to stop and starts a watchdog thread that ends
    the process with status 1 if it is still running STOP_BOUND later (and, in case that thread never gets the
    interpreter back, faulthandler's C watchdog 5 s after it). A second signal ends the process at once.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    bound = STOP_BOUND.total_seconds()
    signalled: list[str] = []

    def on_signal(signum: int, _: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if signalled:
            _say(f"alliance: {name} again; stopping at once")
            os._exit(128 + signum)
        signalled.append(name)
        # A signal handler must not raise into whatever the main thread was doing: each step may fail alone
        # (no stderr file descriptor for faulthandler, a loop already closed…) without stopping the others.
        with contextlib.suppress(Exception):
            threading.Thread(target=_exit_after, args=(bound, name), name="stop-watchdog", daemon=True).start()
        with contextlib.suppress(Exception):
            faulthandler.dump_traceback_later(bound + 5, exit=True)
        with contextlib.suppress(Exception):
            loop.call_soon_threadsafe(stop.set)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    return stop


async def serve_until_stopped(
    stop: asyncio.Event,
    server: QuietServer | None,
    worker: Worker | None,
    on_ready: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Run the API and/or the worker until `stop` is set, then shut both down gracefully. The event loop is watched
    meanwhile (`app.loop_watch`): code holding it is logged, and a worker whose loop is held for good ends."""
    async with watching_loop(LoopWatch(give_up_after=HELD_LIMIT if worker is not None else None)):
        await _serve_until_stopped(stop, server, worker, on_ready)


async def _serve_until_stopped(
    stop: asyncio.Event,
    server: QuietServer | None,
    worker: Worker | None,
    on_ready: Callable[[], Awaitable[None]] | None,
) -> None:
    tasks: list[asyncio.Task[None]] = []
    if worker is not None:
        tasks.append(asyncio.create_task(worker.run()))
    if server is not None:
        tasks.append(asyncio.create_task(server.serve()))
        while not server.started:
            if any(t.done() for t in tasks):
                break
            await asyncio.sleep(0.05)
    if on_ready is not None and not stop.is_set() and not any(t.done() for t in tasks):
        await on_ready()
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SHUTDOWN_GRACE.total_seconds() + 5
    if server is not None:
        server.should_exit = True
    if worker is not None and worker.is_running:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(worker.shutdown(), deadline - loop.time())
    # Whatever still hangs (a request waiting on a case that cannot answer) is cut off, not waited for.
    _, pending = await asyncio.wait(tasks, timeout=max(0.0, deadline - loop.time()))
    for task in pending:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
