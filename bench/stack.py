"""The real parts every benchmark stands on, started once and always stopped: PostgreSQL (migrated, with
the demo SME registry), a Temporal dev server, and a mail sink in a process of its own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.client import Interceptor as ClientInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from app.embedded_postgres import HOST as PG_HOST
from app.embedded_postgres import ensure_database, product_connections, start_postgres
from app.embedded_temporal import temporal_binary
from app.processes import ChildProcess, wait_for_port
from contracts import search_attributes as sa
from domain.samples import DEMO_SMES
from infra import migrate
from infra.db import create_engine, session_factory
from infra.embedded_database import embedded_postgres_url
from infra.settings import Settings
from infra.sme_registry import seed_demo_smes
from infra.startup import free_port

DATABASE = "alliance_bench"
SETTING_NAMES = {name.upper() for name in Settings.model_fields}


@dataclass
class Stack:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    client: Client
    mail_port: int
    sink: ChildProcess
    root: Path  # the run's temporary folder (logs of the processes it starts)

    async def stop_mail(self) -> None:
        """Stop the mail sink (after the case-desk phase; the bare phase sends no mail)."""
        await asyncio.to_thread(self.sink.stop)


@contextlib.asynccontextmanager
async def bench_stack(
    console: Console, settings: Settings, mail_port: int, interceptors: Sequence[ClientInterceptor]
) -> AsyncIterator[Stack]:
    children: list[ChildProcess] = []
    engine: AsyncEngine | None = None
    env: WorkflowEnvironment | None = None
    with tempfile.TemporaryDirectory(prefix="alliance-bench-", ignore_cleanup_errors=True) as tmp:
        try:
            with console.status("starting PostgreSQL…"):
                pg_port = free_port()
                # Started from this thread: the server is tied to its parent thread's life (PDEATHSIG).
                children.append(start_postgres(Path(tmp), pg_port, product_connections(settings, others=1)))
                await ensure_database(pg_port, DATABASE)
                engine = create_engine(settings, embedded_postgres_url(Path(tmp), pg_port, DATABASE))
                await migrate.upgrade(engine)
                await seed_demo_smes(engine)
            console.print(f"[green]✓[/] PostgreSQL on {PG_HOST}:{pg_port}, migrated, {len(DEMO_SMES)} SMEs")
            with console.status("starting the Temporal dev server…"):
                env = await WorkflowEnvironment.start_local(
                    data_converter=pydantic_data_converter,
                    search_attributes=sa.ALL,
                    dev_server_existing_path=temporal_binary(),
                )
                config = env.client.config()
                config["interceptors"] = list(interceptors)
                client = Client(**config)
            console.print("[green]✓[/] Temporal dev server (in-memory)")
            # The mail server is the outside world: a sink in a process of its own, as in production.
            sink = ChildProcess.start(
                "mail sink",
                [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{mail_port}",
                 "-c", "aiosmtpd.handlers.Sink"],
                Path(tmp) / "mail.log",
            )
            children.append(sink)
            await asyncio.to_thread(wait_for_port, "127.0.0.1", mail_port, 30, sink)
            yield Stack(engine, session_factory(engine), client, mail_port, sink, Path(tmp))
        finally:
            if env is not None:
                with contextlib.suppress(Exception):
                    await env.shutdown()
            if engine is not None:
                await engine.dispose()
            for child in reversed(children):
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(child.stop)



@contextlib.asynccontextmanager
async def bench_database(console: Console, settings: Settings, keep: Path | None = None) -> AsyncIterator[AsyncEngine]:
    """Only PostgreSQL (embedded, migrated), for the benches that need no workflow: empty in a temporary folder,
    or, with `keep`, in that folder, kept after the run with whatever the bench stored (a later run with the same
    folder finds it there, migrated to the newest revision)."""
    with contextlib.ExitStack() as folders:
        if keep is None:
            temporary = tempfile.TemporaryDirectory(prefix="alliance-bench-", ignore_cleanup_errors=True)
            tmp = folders.enter_context(temporary)
        else:
            tmp = str(keep)  # made by the server's first start
        port = free_port()
        with console.status("starting PostgreSQL…"):
            postgres = start_postgres(Path(tmp), port)
        try:
            await ensure_database(port, DATABASE)
            engine = create_engine(settings, embedded_postgres_url(Path(tmp), port, DATABASE))
            try:
                await migrate.upgrade(engine)
                yield engine
            finally:
                await engine.dispose()
        finally:
            await asyncio.to_thread(postgres.stop)


WORKER_READY = "worker polling"  # what `alliance worker` prints once it polls its task queue
API_HOST = "127.0.0.1"


def product_env(stack: Stack, settings: Settings, data_dir: Path, **more: str) -> dict[str, str]:
    """The environment an `alliance` process of the bench is configured by: this process's, without any setting of
    its own, plus the stack's parts and `settings`' queue, pepper and mail sender (and `more`)."""
    env = {name: value for name, value in os.environ.items() if name.upper() not in SETTING_NAMES}
    env.update(
        DATA_DIR=str(data_dir),
        DATABASE_URL=stack.engine.url.render_as_string(hide_password=False),
        TEMPORAL_ADDRESS=stack.client.service_client.config.target_host,
        TEMPORAL_NAMESPACE=stack.client.namespace,
        TEMPORAL_TASK_QUEUE=settings.temporal_task_queue,
        TOKEN_PEPPER=settings.token_pepper.get_secret_value(),
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(stack.mail_port),
        MAIL_FROM=settings.mail_from,
        LOG_LEVEL="WARNING",
        INCIDENT_SCAN_SECONDS="0",
        **more,
    )
    return env


def alliance(command: str) -> list[str]:
    return [str(Path(sys.executable).parent / "alliance"), command]


@contextlib.asynccontextmanager
async def worker_process(stack: Stack, settings: Settings, log_path: Path) -> AsyncIterator[ChildProcess]:
    """The product's case worker and mail relay as `alliance worker` runs them, in a process of its own beside this
    one (as `alliance worker` and `alliance api` are deployed), configured only by its environment from `settings`.
    Stopped with SIGTERM when the block ends."""
    env = product_env(stack, settings, log_path.parent / "worker-data")
    child = ChildProcess.start("case worker", alliance("worker"), log_path, env=env)
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while WORKER_READY not in await asyncio.to_thread(log_path.read_text, errors="replace"):
            if child.popen.poll() is not None or asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"the case worker did not start; its log: {log_path}")
            await asyncio.sleep(0.1)
        yield child
    finally:
        await asyncio.to_thread(child.stop)


@contextlib.asynccontextmanager
async def worker_processes(stack: Stack, settings: Settings) -> AsyncIterator[list[ChildProcess]]:
    """`settings.run_workers` case workers, as `alliance run` starts them (`worker_process` each; logs
    `worker.log`, `worker-2.log`, … in the stack's folder), one after the other, so one that fails to start leaves
    those before it to be stopped and starts no more."""
    async with contextlib.AsyncExitStack() as running:
        workers = []
        for n in range(1, settings.run_workers + 1):
            log = stack.root / ("worker.log" if n == 1 else f"worker-{n}.log")
            workers.append(await running.enter_async_context(worker_process(stack, settings, log)))
        yield workers


@contextlib.asynccontextmanager
async def api_process(stack: Stack, settings: Settings, port: int, log_path: Path) -> AsyncIterator[ChildProcess]:
    """The product's HTTP API as `alliance api` serves it, on API_HOST:`port`, in a process of its own (as deployed),
    configured only by its environment from `settings`; yields once it answers on its port. Stopped with SIGTERM
    when the block ends."""
    env = product_env(stack, settings, log_path.parent / "api-data", API_HOST=API_HOST, API_PORT=str(port))
    child = ChildProcess.start("API", alliance("api"), log_path, env=env)
    try:
        await asyncio.to_thread(wait_for_port, API_HOST, port, 60, child)
        yield child
    finally:
        await asyncio.to_thread(child.stop)
