"""Running a bench: a phase of workflows driven a few at a time (timed, its CPU and event-loop lag measured), and
a whole bench with its report, a failure being one readable line."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Any

import typer
from rich.console import Console
from rich.progress import Progress

from app.processes import ChildProcess
from bench.drivers import Drive
from bench.measure import ActivityTimer, Phase, cpu_by_process_tree
from infra.logging import configure_logging


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
