"""Benchmark: officer action latency over HTTP, against the bare Temporal Update round trip, in one run.

Real parts, as in `bench.cases`: an embedded PostgreSQL (migrated, a few SMEs, the demo users), a mail sink
in a process of its own, a Temporal dev server, and the product's case worker and API, each in a process of its
own as deployed (`alliance worker`, `alliance api`; with `--inline`, both in this process beside the officers, which
also times the Updates inside the API). Each of `--concurrency` officers (an asyncio task with an
HTTP client of its own) takes case after case from filing to `alliance_formed_with_fund`: the applicant
files (`POST /api/cases`), then 8 actions (`POST /api/cases/{id}/actions/{action}`) by the coordinator, the
SBIC officer and the fund committee. Each action's HTTP round trip is timed.

Then, in the same run, as many bare workflows (`bench.bare`) on a queue of their own, driven by the same
number of tasks through the Temporal client: each action's `execute_update` is timed. Filing is timed on
both sides but kept out of the comparison.

    python -m bench.http_actions --cases 200 --concurrency 20
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated

import typer
from fastapi import FastAPI
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.app import create_app
from app.bootstrap import mail_relay
from app.processes import ChildProcess
from app.serving import QuietServer, api_server
from bench.cases import bare_worker, count_events
from bench.drivers import (
    BARE_ACTIONS,
    UPDATES_PER_CASE,
    Officers,
    bare_driver,
    http_driver,
)
from bench.measure import ActivityTimer, Phase, UpdateTimer, mean, ms, percentile
from bench.running import run_and_report, run_phase
from bench.stack import API_HOST, api_process, bench_stack, worker_processes
from infra.settings import Settings
from infra.startup import free_port
from infra.users import ensure_demo_users
from services.context import Services
from workers.case_worker import build_worker

PEPPER = "bench-pepper"
ACTIONS = BARE_ACTIONS  # the 8 actions after filing: the same names on both sides


def actions_of(phase: Phase) -> list[float]:
    return [t for name in ACTIONS for t in phase.updates[name]]


@contextlib.asynccontextmanager
async def serving(app: FastAPI, port: int) -> AsyncIterator[QuietServer]:
    """The API on API_HOST:port, served by uvicorn in this event loop until the block ends."""
    server = api_server(app, API_HOST, port)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                raise RuntimeError(f"the API server stopped during start-up ({task.exception()!r})")
            await asyncio.sleep(0.05)
        yield server
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception, SystemExit):  # uvicorn exits with SystemExit when it cannot bind
            await asyncio.wait_for(task, 15)


# -- the run ----------------------------------------------------------------------------------------


@dataclass
class Results:
    http: Phase
    bare: Phase
    in_api: dict[str, list[float]] = field(default_factory=dict)  # Update name -> seconds, inside the API
    events: int = 0
    pool: str = ""


async def benchmark(total: int, concurrency: int, warmup: int, console: Console, *, inline: bool = False) -> Results:
    """`inline`: the case worker, mail relay and API in this process, beside the officers; otherwise each in a
    process of its own (`alliance worker`, `alliance api`), as the product is deployed and as `alliance run` runs
    them. The Updates inside the API are timed only inline (a client interceptor in this process)."""
    activities = ActivityTimer()  # run_phase wants one; it also times the activities of both workers
    updates = UpdateTimer()
    mail_port = free_port()
    settings = Settings(
        token_pepper=PEPPER,
        temporal_task_queue=f"bench-http-{uuid.uuid4().hex[:8]}",
        smtp_host="127.0.0.1",
        smtp_port=mail_port,
        mail_from="bench@localhost",
    )
    async with bench_stack(console, settings, mail_port, [activities, updates]) as stack:
        client, engine, sessions = stack.client, stack.engine, stack.sessions
        issued = await ensure_demo_users(sessions, PEPPER)
        tokens: dict[tuple[str, str], str] = {(user.role, user.org): token for user, token in issued}
        with Progress(
            TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console,
        ) as progress:
            api_port = free_port()
            officers = Officers(f"http://{API_HOST}:{api_port}")
            try:
                async with contextlib.AsyncExitStack() as running:
                    guarded: list[ChildProcess] = []  # a product process that exits stops the run
                    if inline:
                        await running.enter_async_context(
                            build_worker(client, settings.temporal_task_queue, engine, keys=settings.audit_keys))
                        await running.enter_async_context(mail_relay(settings, engine, client).running())
                        await running.enter_async_context(
                            serving(create_app(Services(settings, engine, sessions, client)), api_port))
                        where = "in this process, beside the officers"
                    else:
                        guarded.extend(await running.enter_async_context(worker_processes(stack, settings)))
                        guarded.append(await running.enter_async_context(
                            api_process(stack, settings, api_port, stack.root / "api.log")))
                        where = "each in a process of its own (`alliance worker`, `alliance api`)"
                    progress.console.print(f"[green]✓[/] API on http://{API_HOST}:{api_port}; the API, case worker "
                                           f"and mail relay {where}")
                    drive = http_driver(officers, tokens)
                    if warmup:
                        await run_phase(Phase("HTTP (warm-up)"), drive, warmup, concurrency, progress, activities,
                                        guarded)
                    updates.reset()
                    http = await run_phase(Phase("HTTP officers"), drive, total, concurrency, progress, activities,
                                           guarded)
                    in_api = {name: list(times) for name, times in updates.by_name.items()}
            finally:
                await officers.aclose()
            await stack.stop_mail()

            queue = f"bench-bare-{uuid.uuid4().hex[:8]}"
            async with bare_worker(client, queue):
                drive = bare_driver(client, queue)
                if warmup:
                    await run_phase(Phase("bare (warm-up)"), drive, warmup, concurrency, progress, activities)
                bare = await run_phase(Phase("bare Updates"), drive, total, concurrency, progress, activities)
        events = await count_events(engine)
        return Results(http, bare, in_api, events, f"{settings.db_pool_size}+{settings.db_max_overflow}")


# -- report -----------------------------------------------------------------------------------------


def report(results: Results, total: int, concurrency: int, warmup: int, console: Console) -> None:
    http, bare = results.http, results.bare
    here, there = actions_of(http), actions_of(bare)
    inside = [t for name in ACTIONS for t in results.in_api.get(name, [])]
    expected = (total + warmup) * UPDATES_PER_CASE
    console.print(
        f"\n{total} cases over HTTP and {total} bare workflows, {concurrency} at a time ({warmup} warm-up each, "
        f"not counted); {len(ACTIONS)} timed actions each (filing timed apart). Audit events written: "
        f"{results.events} (expected {expected}). DB pool {results.pool}. CPU cores: {os.cpu_count()}."
    )
    table = Table(title="Officer action over HTTP vs bare Temporal Update")
    table.add_column("")
    table.add_column("HTTP action", justify="right")
    table.add_column("bare Update", justify="right")
    table.add_column("HTTP / bare", justify="right")
    table.add_column("of which Update in API (--inline only)", justify="right")
    for label, p in (("p50 ms", 50.0), ("p99 ms", 99.0)):
        a, b = percentile(here, p), percentile(there, p)
        table.add_row(label, ms(a), ms(b), f"{a / b:.2f}", ms(percentile(inside, p)))
    a, b = mean(here), mean(there)
    table.add_row("mean ms", ms(a), ms(b), f"{a / b:.2f}", ms(mean(inside)))
    a, b = len(here) / http.wall, len(there) / bare.wall
    table.add_row("actions/s", f"{a:.1f}", f"{b:.1f}", f"{a / b:.2f}", "")
    table.add_row("cases/s", f"{http.rate:.2f}", f"{bare.rate:.2f}", f"{http.rate / bare.rate:.2f}", "")
    table.add_row("samples", str(len(here)), str(len(there)), "", str(len(inside)))
    console.print(table)

    steps = Table(title="By action (p50 / p99 ms)")
    steps.add_column("action")
    steps.add_column("HTTP", justify="right")
    steps.add_column("Update in API (--inline only)", justify="right")
    steps.add_column("bare Update", justify="right")

    def p50_p99(values: list[float]) -> str:
        return f"{ms(percentile(values, 50))} / {ms(percentile(values, 99))}"

    for name in ("file", *ACTIONS):
        steps.add_row(name, p50_p99(http.updates[name]), p50_p99(results.in_api.get(name, [])),
                      p50_p99(bare.updates[name]))
    console.print(steps)

    cpu = Table(title="CPU seconds used during each run (other work on the machine not shown)")
    cpu.add_column("process (with its children)")
    cpu.add_column("HTTP", justify="right")
    cpu.add_column("bare", justify="right")
    for name in sorted(set(http.cpu) | set(bare.cpu)):
        cpu.add_row(name, f"{http.cpu.get(name, 0.0):.1f}", f"{bare.cpu.get(name, 0.0):.1f}")
    cpu.add_row("wall seconds", f"{http.wall:.1f}", f"{bare.wall:.1f}")
    cpu.add_row("event-loop lag mean / p99 ms", f"{ms(mean(http.loop_lag))} / {ms(percentile(http.loop_lag, 99))}",
                f"{ms(mean(bare.loop_lag))} / {ms(percentile(bare.loop_lag, 99))}")
    console.print(cpu)
    a, b = percentile(here, 50), percentile(there, 50)
    console.print(
        f"RESULT http_p50_ms={ms(a)} bare_update_p50_ms={ms(b)} p50_ratio={a / b:.2f} "
        f"actions_ratio={(len(here) / http.wall) / (len(there) / bare.wall):.2f} p99_ms={ms(percentile(here, 99))} "
        f"max_ms={ms(max(here))}",
        soft_wrap=True, highlight=False,
    )


def main(
    cases: Annotated[int, typer.Option("--cases", min=1, help="Cases over HTTP, and as many bare workflows.")] = 200,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="Officers (and bare drivers).")] = 20,
    warmup: Annotated[int, typer.Option("--warmup", min=0, help="Uncounted cases of each kind first.")] = 20,
    log_level: Annotated[str, typer.Option("--log-level", help="Product log level during the run.")] = "WARNING",
    inline: Annotated[bool, typer.Option("--inline", help="The case worker and API in this process, beside the "
                                                         "officers (times the Updates inside the API).")] = False,
) -> None:
    """Officers drive cases through the HTTP API; bare workflows take as many Updates; compare the latencies."""
    run_and_report(functools.partial(benchmark, inline=inline), report, cases, concurrency, warmup, log_level)


if __name__ == "__main__":
    typer.run(main)
