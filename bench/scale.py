"""Scale benchmarks: a worker at rest under 10,000 open cases, and case throughput with 1, 2 and 3 workers.

`make bench-scale` (BENCH_ARGS="--open 10000 --cases 150"). Workers are real `alliance worker` processes
against one Temporal dev server and one PostgreSQL, as they would run in production.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Annotated

import psutil
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from app.processes import ChildProcess
from bench.drivers import APPLICANT, REQUEST, case_driver
from bench.measure import ActivityTimer, Phase
from bench.running import run_phase
from bench.stack import Stack, bench_stack
from contracts.case import FILE_UPDATE, FILE_UPDATE_ID, CaseInput, FilingCommand, Receipt, workflow_id
from infra.settings import Settings
from infra.startup import free_port
from workflows.case import CaseWorkflow

console = Console()
ALLIANCE = str(Path(sys.executable).parent / "alliance")


def start_worker(name: str, stack: Stack, queue: str, folder: Path) -> ChildProcess:
    """An `alliance worker` process configured only by environment variables."""
    env = {
        **os.environ,
        "DATABASE_URL": stack.engine.url.render_as_string(hide_password=False),
        "TEMPORAL_ADDRESS": stack.client.service_client.config.target_host,
        "TEMPORAL_TASK_QUEUE": queue,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(stack.mail_port),
        "LOG_LEVEL": "WARNING",
        "AUDIT_VERIFICATION_CRON": "",
    }
    # Started from this (the main) thread: the process dies with its parent thread (PDEATHSIG).
    return ChildProcess.start(name, [ALLIANCE, "worker"], folder / f"{name}.log", env=env)


async def wait_until_polling(worker: ChildProcess) -> None:
    for _ in range(600):
        if "worker polling" in worker.log_path.read_text(errors="replace"):
            return
        if worker.popen.poll() is not None:
            raise RuntimeError(f"{worker.name} exited: {worker.log_path.read_text(errors='replace')[-2000:]}")
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{worker.name} did not start")


async def file_open_cases(client: Client, queue: str, count: int, concurrency: int, progress: Progress) -> float:
    """File `count` cases that then wait in screening on their service-level timer; cases/s."""
    task = progress.add_task("filing open cases", total=count)
    remaining = iter(range(count))

    async def lane() -> None:
        for _ in remaining:
            case_id = str(uuid.uuid4())
            operation = WithStartWorkflowOperation(
                CaseWorkflow.run, CaseInput(case_id=case_id), id=workflow_id(case_id), task_queue=queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            await client.execute_update_with_start_workflow(
                FILE_UPDATE, FilingCommand(actor=APPLICANT, request=REQUEST), start_workflow_operation=operation,
                id=FILE_UPDATE_ID, result_type=Receipt,
            )
            progress.advance(task)

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(lane())
    return count / (time.perf_counter() - started)


async def at_rest(worker: ChildProcess, seconds: float) -> tuple[float, float]:
    """The worker's RSS (MB) and CPU (% of one core) while nothing happens but waiting timers."""
    process = psutil.Process(worker.popen.pid)
    before = process.cpu_times()
    await asyncio.sleep(seconds)
    after = process.cpu_times()
    used = (after.user - before.user) + (after.system - before.system)
    return process.memory_info().rss / 2**20, 100 * used / seconds


async def run(open_cases: int, cases: int, concurrency: int, rest: float) -> None:
    settings = Settings()
    table = Table("measure", "value", title="scale")
    columns = (TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with tempfile.TemporaryDirectory(prefix="alliance-scale-", ignore_cleanup_errors=True) as tmp:
        folder = Path(tmp)
        async with bench_stack(console, settings, free_port(), []) as stack:
            workers: list[ChildProcess] = []
            try:
                queue = f"scale-{uuid.uuid4().hex[:8]}"
                workers.append(start_worker("worker-1", stack, queue, folder))
                await wait_until_polling(workers[0])
                with Progress(*columns, console=console) as progress:
                    rate = await file_open_cases(stack.client, queue, open_cases, concurrency, progress)
                table.add_row("filing open cases (1 worker)", f"{open_cases:,} at {rate:,.0f} cases/s")
                rss, cpu = await at_rest(workers[0], rest)
                table.add_row(f"worker at rest, {open_cases:,} open cases on timers",
                              f"RSS {rss:,.0f} MB, CPU {cpu:.1f} % of a core (over {rest:.0f} s)")
                for count in (1, 2, 3):
                    while len(workers) < count:
                        workers.append(start_worker(f"worker-{len(workers) + 1}", stack, queue, folder))
                        await wait_until_polling(workers[-1])
                    with Progress(*columns, console=console) as progress:
                        drive = case_driver(stack.client, queue, stack.engine)
                        phase = await run_phase(Phase(f"{count} worker(s)"), drive, cases, concurrency, progress,
                                                ActivityTimer(), workers)
                    table.add_row(f"throughput, {count} worker(s)",
                                  f"{cases / phase.wall:.1f} cases/s ({cases} cases to fund approval, "
                                  f"{concurrency} at a time)")
            finally:
                for worker in workers:
                    await asyncio.to_thread(worker.stop)
    console.print(table)


def main(
    open_cases: Annotated[int, typer.Option("--open", min=1, help="Open cases left waiting on timers.")] = 10_000,
    cases: Annotated[int, typer.Option("--cases", min=1, help="Cases driven to the end per worker count.")] = 150,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="Cases in flight at once.")] = 30,
    rest: Annotated[float, typer.Option("--rest", min=1, help="Seconds the idle worker is watched.")] = 30,
) -> None:
    asyncio.run(run(open_cases, cases, concurrency, rest))


if __name__ == "__main__":
    typer.run(main)
