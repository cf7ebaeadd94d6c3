"""The real parts every benchmark stands on, started once and always stopped: PostgreSQL (migrated, with
the demo SME registry), a Temporal dev server, and a mail sink in a process of its own."""

from __future__ import annotations

import asyncio
import contextlib
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
from app.embedded_postgres import ensure_database, start_postgres
from app.embedded_temporal import temporal_binary
from app.processes import ChildProcess, wait_for_port
from contracts import search_attributes as sa
from domain.samples import DEMO_SMES
from infra import migrate
from infra.db import create_engine, session_factory
from infra.settings import Settings, embedded_postgres_url
from infra.sme_registry import seed_demo_smes
from infra.startup import free_port

DATABASE = "alliance_bench"


@dataclass
class Stack:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    client: Client
    mail_port: int
    sink: ChildProcess

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
                children.append(start_postgres(Path(tmp), pg_port))
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
            yield Stack(engine, session_factory(engine), client, mail_port, sink)
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
async def bench_database(console: Console, settings: Settings) -> AsyncIterator[AsyncEngine]:
    """Only PostgreSQL (embedded, migrated, empty), for the benches that need no workflow."""
    with tempfile.TemporaryDirectory(prefix="alliance-bench-", ignore_cleanup_errors=True) as tmp:
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
