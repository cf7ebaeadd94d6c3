"""Benchmark: cases driven from filing to `alliance_formed_with_fund`, against bare Temporal workflows.

Real parts: an embedded PostgreSQL (migrated, with a small SME registry) and a Temporal dev server, both
started in a temporary folder and stopped at the end. The case worker is the product's, run as it is deployed:
`alliance worker` (its `build_worker` and mail relay) in a process of its own (`--inline`: in this process,
beside the driving client). SDK defaults: 100 workflow-task slots, 100 activity slots, 5 pollers each, 1000
cached workflows; the bare worker, in this process, uses the same settings in the SDK's default sandbox (what a
team writes; the case worker runs its workflows unsandboxed, `WorkerTuning.sandboxed`). Each case takes 9
Updates (filing by update-with-start, then 8 actions) and 10 activities (9 `record_case_event`, local ones run in
the task that accepts each Update, and 1 ordinary `rank_candidates`); each bare workflow takes the same Updates with
ordinary no-op activities (the "bare local" baseline: local ones).

    python -m bench.cases --cases 500 --concurrency 50
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.worker import Worker

from app.processes import ChildProcess
from bench.bare import BARE_LOCAL_WORKFLOW, BARE_WORKFLOW, BareLocalWorkflow, BareWorkflow, noop
from bench.bare import FILE_UPDATE as BARE_FILE_UPDATE
from bench.measure import ActivityTimer, Phase, cpu_by_process_tree, mean, percentile
from bench.stack import bench_stack, worker_process
from contracts.case import FILE_UPDATE, FILE_UPDATE_ID, ActionCommand, CaseInput, FilingCommand, Receipt, workflow_id
from domain.model import FUND, JETRO, Actor, CaseState, FilingRequest, Office, Outcome, Role
from domain.samples import sample_filing
from infra.logging import configure_logging
from infra.settings import Settings
from infra.smtp import SmtpSettings
from infra.startup import free_port
from infra.tables import audit_events, cases
from services.mail_relay import MailRelay
from workers.case_worker import build_worker, workflow_runner
from workflows.case import CaseWorkflow

DATABASE = "alliance_bench"
UPDATES_PER_CASE = 9
ACTIVITIES_PER_CASE = 10  # 9 record_case_event (local), 1 rank_candidates

APPLICANT = Actor(id="bench-applicant", name="Anna Schmidt (Acme GmbH)", role=Role.APPLICANT, org="acme-gmbh")
COORDINATOR = Actor(id="bench-coordinator", name="Kenji Sato (JETRO)", role=Role.COORDINATOR, org=JETRO)
OFFICER = Actor(id="bench-officer", name="Officer of SBIC", role=Role.OFFICE_OFFICER, org=Office.SBIC)
FUND_MEMBER = Actor(id="bench-fund", name="Yuki Tanaka (Fund committee)", role=Role.FUND_COMMITTEE, org=FUND)

REQUEST = FilingRequest.model_validate(sample_filing())


# -- the two kinds of workflow ----------------------------------------------------------------------

Drive = Callable[[Phase], Awaitable[None]]


async def read_case(engine: AsyncEngine, case_id: str) -> CaseState:
    """The case as the read model shows it (what the console and the API read; no Query to the workflow)."""
    async with engine.connect() as conn:
        snapshot = await conn.scalar(select(cases.c.snapshot).where(cases.c.id == case_id))
    return CaseState.model_validate(snapshot)


def case_driver(client: Client, task_queue: str, engine: AsyncEngine) -> Drive:
    """One case from filing to an alliance with the fund, as people drive it: Updates for actions, the read model
    for what they look at (the candidates to shortlist, the outcome), never a Query to the workflow."""

    async def drive(phase: Phase) -> None:
        case_id = str(uuid.uuid4())
        operation = WithStartWorkflowOperation(
            CaseWorkflow.run,
            CaseInput(case_id=case_id),
            id=workflow_id(case_id),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        with phase.timed("file"):
            await client.execute_update_with_start_workflow(
                FILE_UPDATE,
                FilingCommand(actor=APPLICANT, request=REQUEST),
                start_workflow_operation=operation,
                id=FILE_UPDATE_ID,
                result_type=Receipt,
            )
        handle = client.get_workflow_handle(workflow_id(case_id))

        async def act(action: str, actor: Actor, **payload: Any) -> Receipt:
            with phase.timed(action):
                receipt: Receipt = await handle.execute_update(
                    action, ActionCommand(actor=actor, payload=payload), result_type=Receipt
                )
            return receipt

        await act("relay", COORDINATOR, offices=[Office.SME_SUPPORT_JAPAN, Office.SBIC], note="strong tech fit")
        await act("accept_case", OFFICER, note="we take it")
        await act("run_matching", OFFICER, limit=5)
        best = (await read_case(engine, case_id)).candidates[0].sme_id
        await act("shortlist", OFFICER, sme_ids=[best])
        await act("record_response", OFFICER, sme_id=best, interested=True, note="keen")
        await act("select_partner", OFFICER, sme_ids=[best])
        await act("propose_investment", OFFICER, route="co_investment", amount_jpy=200_000_000,
                  rationale="opens EU channels")
        await act("approve_investment", FUND_MEMBER, note="approved")
        outcome = (await read_case(engine, case_id)).outcome
        if outcome != Outcome.ALLIANCE_FORMED_WITH_FUND:
            raise RuntimeError(f"case {case_id} ended as {outcome}, not alliance_formed_with_fund")

    return drive


BARE_ACTIONS = ("relay", "accept_case", "run_matching", "shortlist", "record_response", "select_partner",
                "propose_investment", "approve_investment")


def bare_driver(client: Client, task_queue: str, workflow_type: str = BARE_WORKFLOW) -> Drive:
    async def drive(phase: Phase) -> None:
        wf_id = f"bare-{uuid.uuid4()}"
        operation: WithStartWorkflowOperation[Any, int] = WithStartWorkflowOperation(
            workflow_type,
            UPDATES_PER_CASE,
            id=wf_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            result_type=int,
        )
        with phase.timed("file"):
            await client.execute_update_with_start_workflow(
                BARE_FILE_UPDATE, start_workflow_operation=operation, id=BARE_FILE_UPDATE, result_type=int
            )
        handle = client.get_workflow_handle(wf_id)
        done = 1
        for action in BARE_ACTIONS:
            with phase.timed(action):
                done = await handle.execute_update(action, result_type=int)
        if done != UPDATES_PER_CASE:
            raise RuntimeError(f"bare workflow {wf_id} counted {done} Updates")

    return drive


async def run_phase(
    phase: Phase, drive: Drive, total: int, concurrency: int, progress: Progress, timer: ActivityTimer,
    workers: Sequence[ChildProcess] = (),
) -> Phase:
    """Drive `total` workflows, `concurrency` at a time; each lane takes the next one when it is done. One of the
    `workers` (processes) that exits meanwhile stops the phase with its exit status (instead of lanes waiting on it
    for ever)."""
    task = progress.add_task(phase.label, total=total)
    remaining: Iterator[int] = iter(range(total))

    async def lane() -> None:
        for _ in remaining:
            await drive(phase)
            phase.workflows += 1
            progress.advance(task)

    async def watch_loop(stop: asyncio.Event) -> None:
        while not stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            phase.loop_lag.append(time.perf_counter() - before - 0.01)

    async def workers_alive() -> None:
        while True:  # polled: a thread waiting on each would outlive the phase
            for worker in workers:
                if (status := worker.popen.poll()) is not None:
                    raise RuntimeError(f"the {worker.name} exited with status {status} during {phase.label}; "
                                       f"its log: {worker.log_path}")
            await asyncio.sleep(0.5)

    timer.reset()
    cpu_before = cpu_by_process_tree()
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_loop(stop))
    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        lanes = [group.create_task(lane()) for _ in range(min(concurrency, total))]
        guard = group.create_task(workers_alive())
        await asyncio.wait(lanes)
        guard.cancel()
    phase.wall = time.perf_counter() - started
    stop.set()
    await watcher
    phase.cpu = {name: used - cpu_before.get(name, 0.0) for name, used in cpu_by_process_tree().items()}
    phase.activities = dict(timer.by_type)
    return phase


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
                child: ChildProcess | None = None
                if inline:
                    relay = MailRelay(stack.engine, smtp, client, settings.audit_keys.signer)
                    worker = build_worker(client, queue, stack.engine, keys=settings.audit_keys)
                    await running.enter_async_context(worker)
                    await running.enter_async_context(relay.running())
                else:
                    child = await running.enter_async_context(
                        worker_process(stack, settings, stack.root / "worker.log"))
                drive = case_driver(client, queue, stack.engine)
                guarded = [child] if child is not None else []
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


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


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


def run_and_report(
    benchmark: Callable[[int, int, int, Console], Coroutine[Any, Any, Any]],
    report: Callable[[Any, int, int, int, Console], None],
    cases: int, concurrency: int, warmup: int, log_level: str,
) -> None:
    """Run a benchmark and print its report; a failure is one readable line and exit status 1."""
    console = Console()
    if not console.is_terminal:
        console.width = 120
    configure_logging("console", log_level)
    try:
        results: Any = asyncio.run(benchmark(cases, concurrency, warmup, console))
    except Exception as error:  # one readable line instead of a task group's tracebacks
        leaves = list(leaf_errors(error))
        first = leaves[0]
        console.print(f"[red]benchmark failed[/] ({len(leaves)} error(s)); first: {type(first).__name__}: {first}"
                      + (f" (cause: {first.__cause__!r})" if first.__cause__ else ""))
        raise typer.Exit(1) from None
    report(results, cases, concurrency, warmup, console)


def leaf_errors(error: BaseException) -> Iterator[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from leaf_errors(inner)
    else:
        yield error


if __name__ == "__main__":
    typer.run(main)
