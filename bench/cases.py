"""Benchmark: cases driven from filing to `alliance_formed_with_fund`, against bare Temporal workflows.

Real parts: an embedded PostgreSQL (migrated, with a small SME registry) and a Temporal dev server, both
started in a temporary folder and stopped at the end. The case worker is the product's, run as it is deployed:
`alliance worker` (its `build_worker` and mail relay) in a process of its own (`--inline`: in this process,
beside the driving client). SDK defaults: 100 workflow-task slots, 100 activity slots, 5 pollers each, 1000
cached workflows; the bare worker, in this process, uses the same settings in the SDK's default sandbox (what a
team writes; the case worker runs its workflows unsandboxed, `WorkerTuning.sandboxed`). Each case takes 9
Updates (filing by update-with-start, then 8 actions) and 10 activities (9 `record_case_event`, local ones run in
the task that accepts each Update, and 1 ordinary `rank_candidates`); each bare workflow takes the same Updates with
ordinary no-op activities (the "bare local" baseline: local ones). Each is driven by `bench.drivers`; the
phases are run by `bench.running`.

    python -m bench.cases --cases 500 --concurrency 50
"""

from __future__ import annotations

import contextlib
import functools
import os
import uuid
from dataclasses import dataclass
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.worker import Worker

from app.processes import ChildProcess
from bench.bare import BARE_LOCAL_WORKFLOW, BareLocalWorkflow, BareWorkflow, noop
from bench.drivers import BARE_ACTIONS, UPDATES_PER_CASE, bare_driver, case_driver
from bench.measure import ActivityTimer, Phase, mean, ms, percentile
from bench.running import run_and_report, run_phase
from bench.stack import bench_stack, worker_processes
from infra.settings import Settings
from infra.smtp import SmtpSettings
from infra.startup import free_port
from infra.tables import audit_events
from services.mail_relay import MailRelay
from workers.case_worker import build_worker, workflow_runner

DATABASE = "alliance_bench"
ACTIVITIES_PER_CASE = 10  # 9 record_case_event (local), 1 rank_candidates


# -- set-up of the real parts -----------------------------------------------------------------------


async def count_events(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.scalar(select(func.count()).select_from(audit_events))) or 0)


def bare_worker(client: Client, task_queue: str) -> Worker:
    """The case worker's settings, with the bare workflow and activity, in the SDK's default sandbox: what a team
    writes without the case desk (the case worker runs unsandboxed: `WorkerTuning.sandboxed`)."""
    return Worker(
        client, task_queue=task_queue, workflows=[BareWorkflow, BareLocalWorkflow], activities=[noop],
        workflow_runner=workflow_runner(),
    )


@dataclass
class Results:
    cases: Phase
    bare: Phase
    bare_local: Phase
    events: int
    pool: str


async def benchmark(total: int, concurrency: int, warmup: int, console: Console, *, inline: bool = False) -> Results:
    """`inline`: the case worker and mail relay in this process, beside the driving client; otherwise in a process
    of their own (`alliance worker`), as the product is deployed. The bare worker is always in this process."""
    settings = Settings(temporal_task_queue=f"bench-cases-{uuid.uuid4().hex[:8]}", mail_from="bench@localhost")
    timer = ActivityTimer()
    async with bench_stack(console, settings, free_port(), [timer]) as stack:
        client = stack.client
        smtp = SmtpSettings(host="127.0.0.1", port=stack.mail_port, sender="bench@localhost")
        with Progress(
            TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console,
        ) as progress:
            queue = settings.temporal_task_queue
            async with contextlib.AsyncExitStack() as running:
                guarded: list[ChildProcess] = []  # a product process that exits stops the run
                if inline:
                    relay = MailRelay(stack.engine, smtp, client, settings.audit_keys.signer)
                    worker = build_worker(client, queue, stack.engine, keys=settings.audit_keys)
                    await running.enter_async_context(worker)
                    await running.enter_async_context(relay.running())
                else:
                    guarded = await running.enter_async_context(worker_processes(stack, settings))
                drive = case_driver(client, queue, stack.engine)
                if warmup:
                    await run_phase(Phase("case desk (warm-up)"), drive, warmup, concurrency, progress, timer,
                                    guarded)
                cases = await run_phase(Phase("case desk"), drive, total, concurrency, progress, timer, guarded)
            await stack.stop_mail()
            queue = f"bench-bare-{uuid.uuid4().hex[:8]}"
            async with bare_worker(client, queue):
                drive = bare_driver(client, queue)
                if warmup:
                    await run_phase(Phase("bare (warm-up)"), drive, warmup, concurrency, progress, timer)
                bare = await run_phase(Phase("bare"), drive, total, concurrency, progress, timer)
                drive = bare_driver(client, queue, BARE_LOCAL_WORKFLOW)
                if warmup:
                    await run_phase(Phase("bare local (warm-up)"), drive, warmup, concurrency, progress, timer)
                bare_local = await run_phase(Phase("bare local"), drive, total, concurrency, progress, timer)
        events = await count_events(stack.engine)
        return Results(cases, bare, bare_local, events, f"{settings.db_pool_size}+{settings.db_max_overflow}")


# -- report -----------------------------------------------------------------------------------------


def report(results: Results, total: int, concurrency: int, warmup: int, console: Console) -> None:
    cases, bare, local = results.cases, results.bare, results.bare_local
    expected = (total + warmup) * UPDATES_PER_CASE
    console.print(
        f"\n{total} workflows of each kind, {concurrency} at a time ({warmup} warm-up each, not counted); "
        f"{UPDATES_PER_CASE} Updates and {ACTIVITIES_PER_CASE} activities per workflow. "
        f"Audit events written: {results.events} (expected {expected}). DB pool {results.pool}."
    )
    table = Table(title="Case desk vs bare Temporal (ordinary activities) and its floor (local activities)")
    table.add_column("")
    table.add_column("case desk", justify="right")
    table.add_column("bare", justify="right")
    table.add_column("bare local", justify="right")
    table.add_column("desk / bare", justify="right")
    table.add_column("desk / local", justify="right")
    table.add_row("workflows/s", f"{cases.rate:.1f}", f"{bare.rate:.1f}", f"{local.rate:.1f}",
                  f"{cases.rate / bare.rate:.2f}", f"{cases.rate / local.rate:.2f}")
    table.add_row("wall time s", f"{cases.wall:.1f}", f"{bare.wall:.1f}", f"{local.wall:.1f}",
                  f"{cases.wall / bare.wall:.2f}", f"{cases.wall / local.wall:.2f}")
    for label, p in (("Update p50 ms", 50.0), ("Update p99 ms", 99.0)):
        a, b, c = (percentile(x.all_updates, p) for x in (cases, bare, local))
        table.add_row(label, ms(a), ms(b), ms(c), f"{a / b:.2f}", f"{a / c:.2f}")
    a, b, c = (mean(x.all_updates) for x in (cases, bare, local))
    table.add_row("Update mean ms", ms(a), ms(b), ms(c), f"{a / b:.2f}", f"{a / c:.2f}")
    table.add_row("Update max ms", *(ms(max(x.all_updates)) for x in (cases, bare, local)), "", "")
    console.print(table)

    steps = Table(title="Where time goes: Update round trip by step (p50 / p99 ms)")
    steps.add_column("Update")
    steps.add_column("case desk", justify="right")
    steps.add_column("bare", justify="right")
    for name in ("file", *BARE_ACTIONS):
        here, there = cases.updates[name], bare.updates[name]
        steps.add_row(name, f"{ms(percentile(here, 50))} / {ms(percentile(here, 99))}",
                      f"{ms(percentile(there, 50))} / {ms(percentile(there, 99))}")
    console.print(steps)

    acts = Table(title="Activities (measured in the worker)")
    for column in ("activity", "run", "count", "mean ms", "p50 ms", "p99 ms", "sched→start mean ms"):
        acts.add_column(column, justify="left" if column in ("activity", "run") else "right")
    for phase in (cases, bare, local):
        for name, times in sorted(phase.activities.items()):
            acts.add_row(name, phase.label, str(len(times.run)), ms(mean(times.run)), ms(percentile(times.run, 50)),
                         ms(percentile(times.run, 99)), ms(mean(times.wait)))
    console.print(acts)

    cpu = Table(title="CPU seconds used during each run (other work on the machine not shown)")
    cpu.add_column("process (with its children)")
    runs = (cases, bare, local)
    for phase in runs:
        cpu.add_column(phase.label, justify="right")
    for name in sorted(set().union(*(phase.cpu for phase in runs))):
        cpu.add_row(name, *(f"{phase.cpu.get(name, 0.0):.1f}" for phase in runs))
    cpu.add_row("wall seconds", *(f"{phase.wall:.1f}" for phase in runs))
    cpu.add_row("event-loop lag mean / p99 ms",
                *(f"{ms(mean(phase.loop_lag))} / {ms(percentile(phase.loop_lag, 99))}" for phase in runs))
    cpu.add_row("CPU cores on this machine", *(str(os.cpu_count()) for _ in runs))
    console.print(cpu)
    update_total = sum(cases.all_updates) / max(cases.workflows, 1)
    activity_total = sum(sum(t.run) for t in cases.activities.values()) / max(cases.workflows, 1)
    if update_total and activity_total:  # measured only when the case worker runs in this process (--inline)
        console.print(f"Per case: {ms(update_total)} ms of Update round trips, of which {ms(activity_total)} ms "
                      f"inside activities ({activity_total / update_total:.0%}).")
    console.print(result_line(results), soft_wrap=True, highlight=False)


def result_line(results: Results) -> str:
    """The one line a script reads (issue: faster than hand-written Temporal)."""
    cases, bare, local = results.cases, results.bare, results.bare_local
    return (f"RESULT cases_per_s={cases.rate:.2f} bare_per_s={bare.rate:.2f} ratio={cases.rate / bare.rate:.2f} "
            f"bare_local_per_s={local.rate:.2f} ratio_local={cases.rate / local.rate:.2f} "
            f"p50_ms={ms(percentile(cases.all_updates, 50))} p99_ms={ms(percentile(cases.all_updates, 99))} "
            f"max_ms={ms(max(cases.all_updates))}")


def main(
    cases: Annotated[int, typer.Option("--cases", min=1, help="Workflows of each kind.")] = 500,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="Workflows in flight at a time.")] = 50,
    warmup: Annotated[int, typer.Option("--warmup", min=0, help="Uncounted workflows of each kind first.")] = 20,
    log_level: Annotated[str, typer.Option("--log-level", help="Product log level during the run.")] = "WARNING",
    inline: Annotated[bool, typer.Option("--inline", help="The case worker in the driving process.")] = False,
) -> None:
    """File cases and drive each to alliance_formed_with_fund; the same with bare workflows; compare."""
    run_and_report(functools.partial(benchmark, inline=inline), report, cases, concurrency, warmup, log_level)



if __name__ == "__main__":
    typer.run(main)
