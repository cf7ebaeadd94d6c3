"""Serve the API and run workers inside one asyncio loop, stopping cleanly on SIGINT / SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Generator
from datetime import timedelta

import uvicorn
from fastapi import FastAPI
from temporalio.worker import Worker

SHUTDOWN_GRACE = timedelta(seconds=10)


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


def stop_event() -> asyncio.Event:
    """An event set by the first SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def serve_until_stopped(
    stop: asyncio.Event,
    server: QuietServer | None,
    worker: Worker | None,
    on_ready: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Run the API and/or the worker until `stop` is set, then shut both down gracefully."""
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
    if server is not None:
        server.should_exit = True
    if worker is not None and worker.is_running:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(worker.shutdown(), SHUTDOWN_GRACE.total_seconds() + 5)
    # Whatever still hangs (a request waiting on a case that cannot answer) is cut off, not waited for.
    _, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE.total_seconds())
    for task in pending:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
