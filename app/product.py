"""`alliance run`: the whole product on this machine, on real parts, stopped cleanly by Ctrl-C."""

from __future__ import annotations

import asyncio

import structlog
from aiosmtpd.controller import Controller
from rich.console import Console

from app.bootstrap import Parts, open_parts
from app.embedded_postgres import ensure_database, product_connections, start_postgres
from app.embedded_temporal import start_temporal
from app.processes import ChildProcess
from app.serving import SHUTDOWN_GRACE, api_server, serve_until_stopped, stop_event
from app.worker_process import WorkerProcess
from infra.embedded_database import EMBEDDED_DATABASE
from infra.mail_sink import start_sink
from infra.settings import Settings
from infra.sme_registry import seed_demo_smes
from infra.startup import require_free_port
from infra.users import NewUser, ensure_demo_users

log = structlog.get_logger(__name__)

WORKER_STOP_TIMEOUT = SHUTDOWN_GRACE.total_seconds() + 5  # its activities get SHUTDOWN_GRACE, as in-process ones did


async def start_embedded(settings: Settings, console: Console, children: list[ChildProcess]) -> None:
    """Start what is not configured to live elsewhere; every process started is added to `children`."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.uses_embedded_database:
        with console.status("starting PostgreSQL…"):
            connections = product_connections(settings)
            children.append(start_postgres(settings.data_dir, settings.embedded_postgres_port, connections))
            await ensure_database(settings.embedded_postgres_port, EMBEDDED_DATABASE)
        console.print(f"[green]✓[/] PostgreSQL      127.0.0.1:{settings.embedded_postgres_port} "
                      f"(data in {settings.data_dir.resolve() / 'postgres'})")
    if settings.uses_embedded_temporal:
        with console.status("starting the Temporal dev server…"):
            children.append(start_temporal(settings.data_dir, settings.temporal_port, settings.temporal_ui_port,
                                           settings.temporal_namespace))
        console.print(f"[green]✓[/] Temporal        {settings.effective_temporal_address} "
                      f"(data in {settings.data_dir.resolve() / 'temporal.db'})")


def print_ready(console: Console, settings: Settings, demo: list[tuple[str, str, str]]) -> None:
    base = f"http://{settings.api_host}:{settings.api_port}"
    console.print(f"[green]✓[/] API             {base}   (OpenAPI docs: {base}/docs, health: {base}/health)")
    signin = "sign in with a demo user's token below" if demo else "sign in with a token from `alliance users add`"
    console.print(f"[green]✓[/] Console         {base}/   (web console: {signin})")
    if settings.uses_embedded_temporal:
        console.print(f"[green]✓[/] Temporal UI     http://127.0.0.1:{settings.temporal_ui_port}")
    if demo:
        console.print("\n[bold]Demo users[/] (send `Authorization: Bearer <token>`):")
    for role, org, token in demo:
        console.print(f"  {role:<15} {org:<18} {token}", soft_wrap=True, highlight=False)
    console.print(f"\n[bold]Case Desk is running.[/] Server logs: {settings.data_dir.resolve()}/*.log. "
                  "Press Ctrl-C to stop.")


async def demo_users(parts: Parts, settings: Settings) -> list[tuple[NewUser, str]]:
    """The demo users and their tokens, created in development only: production never has them (issue 19)."""
    if settings.environment != "development":
        return []
    return await ensure_demo_users(parts.sessions, settings.token_pepper.get_secret_value())


async def run_product(settings: Settings, console: Console) -> None:
    require_free_port(settings.api_host, settings.api_port, "the API", "API_PORT")
    if settings.uses_mail_sink:
        require_free_port("127.0.0.1", settings.smtp_port, "the local mail sink", "SMTP_PORT")
    children: list[ChildProcess] = []
    stopped: list[str] = []  # what has stopped, for the last line
    parts: Parts | None = None
    sink: Controller | None = None
    stop = stop_event()
    try:
        await start_embedded(settings, console, children)
        with console.status("migrating and connecting…"):
            parts = await open_parts(settings, run_migrations=True)
        await parts.keep_schedules()
        demo = await demo_users(parts, settings)
        if await seed_demo_smes(parts.engine):
            console.print("[green]✓[/] Seeded the demo SME registry")
        console.print("[green]✓[/] Database migrated; worker on task queue "
                      f"{settings.temporal_task_queue!r}")
        if settings.uses_mail_sink:
            sink = start_sink(settings.mail_dir, settings.smtp_port)
            console.print(f"[green]✓[/] Mail sink       smtp://127.0.0.1:{settings.smtp_port} "
                          f"(kept in {settings.mail_dir.resolve()}; `alliance mail list`)")
        server = api_server(parts.app(), settings.api_host, settings.api_port)
        rows = [(str(user.role), user.org, token) for user, token in demo]

        async def ready() -> None:
            print_ready(console, settings, rows)

        # The case workers (each with a mail relay and the incident watch) in processes of their own, beside the
        # API's: one Python process runs on one core at a time (issue 15).
        workers = [WorkerProcess() for _ in range(settings.run_workers)]
        for worker in workers:
            worker.start()
        supervisors = [asyncio.create_task(worker.supervise(stop)) for worker in workers]
        try:
            await serve_until_stopped(stop, server, None, on_ready=ready)
        finally:
            stop.set()
            await asyncio.gather(*(worker.stop(WORKER_STOP_TIMEOUT) for worker in workers))
            await asyncio.gather(*supervisors)
            stopped += ["the API", f"{len(workers)} case worker" + ("s" if len(workers) > 1 else "")]
        console.print("stopping…")
    finally:
        if sink is not None:
            sink.stop()
            stopped.append("the mail sink")
        if parts is not None:
            await parts.engine.dispose()
        ended: list[ChildProcess] = []
        for child in reversed(children):
            try:
                await asyncio.to_thread(child.stop)
            except Exception as error:  # the others are stopped all the same
                log.error("could not stop a process the product started", process=child.name, error=str(error)[:300])
            else:
                ended.append(child)
        stopped += [child.name for child in children if child in ended]
        if stopped:
            console.print("[green]✓[/] stopped: " + ", ".join(stopped))
