"""What the benches measure besides wall time: activity times inside a worker, Update round trips by phase and
inside the API (`UpdateTimer`), CPU seconds by process tree (from /proc), and the percentiles they report (in
milliseconds: `ms`)."""

from __future__ import annotations

import contextlib
import os
import time
from collections import defaultdict
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import Interceptor as ClientInterceptor
from temporalio.client import (
    OutboundInterceptor,
    StartWorkflowUpdateInput,
    StartWorkflowUpdateWithStartInput,
    WorkflowUpdateHandle,
    WorkflowUpdateStage,
)
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput
from temporalio.worker import Interceptor as WorkerInterceptor


@dataclass
class ActivityTimes:
    run: list[float] = field(default_factory=list)  # seconds inside the activity
    wait: list[float] = field(default_factory=list)  # seconds from scheduled to started (server clock)


class ActivityTimer(ClientInterceptor, WorkerInterceptor):
    """On the client, so every worker built from that client times its activities."""

    def __init__(self) -> None:
        self.by_type: dict[str, ActivityTimes] = defaultdict(ActivityTimes)

    def reset(self) -> None:
        self.by_type.clear()

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _TimedActivity(next, self)


class _TimedActivity(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, timer: ActivityTimer) -> None:
        super().__init__(next)
        self.timer = timer

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        times = self.timer.by_type[info.activity_type]
        if info.started_time is not None and info.current_attempt_scheduled_time is not None:
            times.wait.append((info.started_time - info.current_attempt_scheduled_time).total_seconds())
        started = time.perf_counter()
        try:
            return await super().execute_activity(input)
        finally:
            times.run.append(time.perf_counter() - started)


@dataclass
class Phase:
    label: str
    workflows: int = 0
    wall: float = 0.0
    updates: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # name -> seconds
    activities: dict[str, ActivityTimes] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per process tree during the phase
    loop_lag: list[float] = field(default_factory=list)  # how late a 10 ms sleep on the event loop woke up

    @property
    def rate(self) -> float:
        return self.workflows / self.wall if self.wall else 0.0

    @property
    def all_updates(self) -> list[float]:
        return [t for times in self.updates.values() for t in times]

    def timed(self, name: str) -> _Stopwatch:
        return _Stopwatch(self.updates[name])


class _Stopwatch:
    def __init__(self, into: list[float]) -> None:
        self.into = into

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *_: object) -> None:
        self.into.append(time.perf_counter() - self.started)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (0 < p <= 100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_table() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, command, CPU seconds so far) for every process we can read."""
    table: dict[int, tuple[int, str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            raw = (entry / "stat").read_text()
            command = raw[raw.index("(") + 1 : raw.rindex(")")]
            fields = raw[raw.rindex(")") + 2 :].split()
            table[int(entry.name)] = (int(fields[1]), command, (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)
    return table


def _process_name(pid: int, command: str) -> str:
    """`command`, and for the product's own processes which one (`alliance worker`, `alliance api`)."""
    if command != "alliance":
        return command
    with contextlib.suppress(OSError):
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        return " ".join(["alliance", *(a.decode(errors="replace") for a in args[2:] if a)])
    return command


def cpu_by_process_tree() -> dict[str, float]:
    """CPU seconds used so far by this process, and by each child process together with its descendants."""
    table = _proc_table()
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (ppid, _, _) in table.items():
        children[ppid].append(pid)

    def tree(pid: int) -> float:
        return table[pid][2] + sum(tree(child) for child in children[pid])

    me = os.getpid()
    usage = {"bench (python)": table[me][2] if me in table else 0.0}
    for child in children[me]:
        name = _process_name(child, table[child][1])
        usage[name] = usage.get(name, 0.0) + tree(child)
    return usage


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


class UpdateTimer(ClientInterceptor):
    """Times the Temporal Updates the API sends (start and wait for completion), by Update name."""

    def __init__(self) -> None:
        self.by_name: dict[str, list[float]] = defaultdict(list)

    def reset(self) -> None:
        self.by_name.clear()

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _TimedUpdates(next, self)


class _TimedUpdates(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, timer: UpdateTimer) -> None:
        super().__init__(next)
        self.timer = timer

    async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> WorkflowUpdateHandle[Any]:
        return await self._timed(input.update, input.wait_for_stage, super().start_workflow_update(input))

    async def start_update_with_start_workflow(
        self, input: StartWorkflowUpdateWithStartInput
    ) -> WorkflowUpdateHandle[Any]:
        update = input.update_workflow_input
        return await self._timed(update.update, update.wait_for_stage, super().start_update_with_start_workflow(input))

    async def _timed(
        self, name: str, stage: WorkflowUpdateStage, call: Awaitable[WorkflowUpdateHandle[Any]]
    ) -> WorkflowUpdateHandle[Any]:
        """With COMPLETED (execute_update), the call returns when the Update is done, its result known."""
        if stage != WorkflowUpdateStage.COMPLETED:
            return await call
        started = time.perf_counter()
        try:
            return await call
        finally:
            self.timer.by_name[name].append(time.perf_counter() - started)
