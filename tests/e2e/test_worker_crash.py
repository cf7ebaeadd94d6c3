"""A case worker killed mid-flight loses nothing and doubles nothing.

A real `alliance worker` subprocess serves 50 cases driven concurrently through Temporal (a real dev
server) and PostgreSQL. Half-way through it is SIGKILLed and a fresh one started; every case still
reaches its outcome with exactly one audit event per accepted action, in order, and an intact chain.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from contracts import search_attributes
from contracts.case import FILE_UPDATE, FILE_UPDATE_ID, ActionCommand, CaseInput, FilingCommand, Receipt, workflow_id
from domain.audit import AuditEntry
from domain.chain_verification import first_broken
from domain.filing import FilingRequest
from domain.model import Actor
from infra.settings import Settings
from infra.startup import free_port
from infra.tables import audit_events, cases
from tests.helpers.people import APPLICANT_ACTOR, COORDINATOR_ACTOR, SBIC, SCB, SJ, officer_actor
from tests.helpers.support import DEV_SERVER, filing
from workflows.case import CaseWorkflow

pytestmark = [pytest.mark.slow, pytest.mark.long]

T = TypeVar("T")

ALLIANCE = Path(sys.executable).parent / "alliance"
CASES = 50
CONCURRENT_CALLS = 16
OVERALL_TIMEOUT = 120.0
READY_TIMEOUT = 30.0
# Settings are read case-insensitively; none may leak into the worker from the environment running the tests.
NOT_INHERITED = {name.upper() for name in Settings.model_fields} | {"TEST_DATABASE_URL"}
TRANSIENT = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.CANCELLED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.ABORTED,
}

Step = tuple[str, Actor, dict[str, Any]]

# Three roads to three outcomes, of 1, 4 and 5 actions after filing.
PATHS: list[tuple[list[Step], str]] = [
    ([("reject", COORDINATOR_ACTOR, {"reason": "outside the scheme"})], "rejected_at_screening"),
    (
        [
            ("relay", COORDINATOR_ACTOR, {"offices": [SBIC, SJ], "note": "strong tech fit"}),
            ("accept_case", officer_actor(SBIC), {"note": "we take it"}),
            ("add_note", officer_actor(SBIC), {"text": "call the CFO on Monday"}),
            ("close_no_match", officer_actor(SBIC), {"reason": "nobody interested"}),
        ],
        "no_match",
    ),
    (
        [
            ("request_info", COORDINATOR_ACTOR, {"questions": ["Which markets?"]}),
            ("provide_info", APPLICANT_ACTOR, {"answer": "Germany and Poland"}),
            ("relay", COORDINATOR_ACTOR, {"offices": [SJ, SCB]}),
            ("decline_case", officer_actor(SJ), {"reason": "no capacity"}),
            ("decline_case", officer_actor(SCB), {"reason": "not our field"}),
        ],
        "declined_by_offices",
    ),
]


@dataclass
class WorkerProcesses:
    """`alliance worker` subprocesses, each in its own process group; all killed at teardown."""

    env: dict[str, str]
    log: Path
    cwd: Path
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as out:
            process = subprocess.Popen(
                [str(ALLIANCE), "worker"],
                env=self.env,
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def kill_all(self) -> None:
        for process in self.started:
            try:
                self.kill(process)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.text().splitlines():
            with contextlib.suppress(ValueError):
                parsed = json.loads(line)
                if isinstance(parsed, dict):
                    lines.append(parsed)
        return lines

    async def wait_ready(self, process: subprocess.Popen[bytes], mark: int) -> None:
        """Until this process says it polls (its line is after byte `mark` of the shared log)."""
        deadline = time.monotonic() + READY_TIMEOUT
        while "worker polling" not in self.text()[mark:]:
            assert process.poll() is None, f"the worker exited with {process.returncode}:\n{self.text()}"
            assert time.monotonic() < deadline, f"the worker did not start:\n{self.text()}"
            await asyncio.sleep(0.1)


@pytest.fixture
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    async with await WorkflowEnvironment.start_local(
        namespace="default",
        port=free_port(),
        data_converter=pydantic_data_converter,
        search_attributes=search_attributes.ALL,
        dev_server_existing_path=str(DEV_SERVER),
    ) as env:
        yield env


@pytest.fixture
def workers(
    tmp_path: Path, engine: AsyncEngine, dev_server: WorkflowEnvironment, settings: Settings, mail_sink: object
) -> Iterator[WorkerProcesses]:
    env = {key: value for key, value in os.environ.items() if key.upper() not in NOT_INHERITED}
    env.update(
        DATABASE_URL=engine.url.render_as_string(hide_password=False),
        TEMPORAL_ADDRESS=dev_server.client.service_client.config.target_host,
        TEMPORAL_NAMESPACE="default",
        TEMPORAL_TASK_QUEUE=f"crash-{uuid.uuid4()}",
        TOKEN_PEPPER="test-pepper",
        LOG_FORMAT="json",
        SMTP_HOST=settings.effective_smtp_host,
        SMTP_PORT=str(settings.smtp_port),
    )
    processes = WorkerProcesses(env, tmp_path / "worker.log", tmp_path)
    try:
        yield processes
    finally:
        processes.kill_all()


@dataclass
class Driver:
    """Takes the cases through their steps, riding out the dead worker by retrying the same update ids."""

    client: Client
    task_queue: str
    deadline: float
    gate: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(CONCURRENT_CALLS))
    completed: int = 0
    in_flight: int = 0
    retries: Counter[str] = field(default_factory=Counter)
    on_completed: Callable[[int], None] = lambda n: None

    async def durably(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """The call, again and again with the same update id, while Temporal cannot say yet."""
        while True:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise asyncio.CancelledError
            assert time.monotonic() < self.deadline, f"{what}: still not done at the deadline"
            try:
                async with self.gate:
                    self.in_flight += 1
                    try:
                        result = await call()
                    finally:
                        self.in_flight -= 1
            except WorkflowUpdateRPCTimeoutOrCancelledError:
                self.retries[what] += 1
            except RPCError as error:
                if error.status not in TRANSIENT:
                    raise
                self.retries[what] += 1
            else:
                self.completed += 1
                self.on_completed(self.completed)
                return result
            await asyncio.sleep(0.2)

    async def file(self, case_id: str) -> Receipt:
        operation = WithStartWorkflowOperation(
            CaseWorkflow.run,
            CaseInput(case_id=case_id),
            id=workflow_id(case_id),
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        request = FilingRequest.model_validate(filing(company=f"Crash Test {case_id[:8]}"))
        state: Receipt = await self.client.execute_update_with_start_workflow(
            FILE_UPDATE,
            FilingCommand(actor=APPLICANT_ACTOR, request=request),
            start_workflow_operation=operation,
            id=FILE_UPDATE_ID,
            result_type=Receipt,
        )
        return state

    async def act(self, case_id: str, step: int, action: str, actor: Actor, payload: dict[str, Any]) -> Receipt:
        handle = self.client.get_workflow_handle(workflow_id(case_id))
        state: Receipt = await handle.execute_update(
            action,
            ActionCommand(actor=actor, payload=payload),
            id=f"{case_id}-{step}-{action}",  # the same id on every retry: Temporal applies it once
            result_type=Receipt,
        )
        return state

    async def run_case(self, case_id: str, steps: list[Step]) -> Receipt:
        state = await self.durably(f"{case_id} file", lambda: self.file(case_id))
        assert state.seq == 1
        for n, (action, actor, payload) in enumerate(steps, start=1):
            state = await self.durably(f"{case_id} {action}", partial(self.act, case_id, n, action, actor, payload))
            assert state.seq == n + 1, f"{case_id} {action}: seq {state.seq}, expected {n + 1}"
        return state


async def test_a_killed_worker_restarted_finishes_every_case_exactly_once(
    dev_server: WorkflowEnvironment, workers: WorkerProcesses, engine: AsyncEngine
) -> None:
    client = dev_server.client
    plan = {str(uuid.uuid4()): PATHS[i % len(PATHS)] for i in range(CASES)}
    total_calls = sum(1 + len(steps) for steps, _ in plan.values())

    first = workers.start()
    await workers.wait_ready(first, 0)

    half_way = asyncio.Event()
    driver = Driver(client, workers.env["TEMPORAL_TASK_QUEUE"], time.monotonic() + OVERALL_TIMEOUT)
    driver.on_completed = lambda n: half_way.set() if n >= total_calls // 2 else None

    async def crash_and_restart() -> int:
        await half_way.wait()
        in_flight = driver.in_flight
        workers.kill(first)  # SIGKILL to the whole process group: no graceful shutdown of any kind
        assert first.returncode == -signal.SIGKILL
        await asyncio.sleep(1)
        workers.start()
        return in_flight

    started = time.monotonic()
    async with asyncio.timeout(OVERALL_TIMEOUT):
        crash = asyncio.create_task(crash_and_restart())
        finals = await asyncio.gather(*(driver.run_case(case_id, steps) for case_id, (steps, _) in plan.items()))
        in_flight_at_kill = await crash
        results = {case_id: await client.get_workflow_handle(workflow_id(case_id)).result() for case_id in plan}
    elapsed = time.monotonic() - started

    assert len(workers.started) == 2 and workers.started[1].poll() is None, workers.text()
    assert driver.completed == total_calls
    for (case_id, (_, outcome)), final in zip(plan.items(), finals, strict=True):
        assert final.stage == "closed", case_id
        assert results[case_id] == outcome, case_id

    async with engine.connect() as conn:
        rows = (
            (
                await conn.execute(
                    select(audit_events)
                    .where(audit_events.c.case_id.in_(list(plan)))
                    .order_by(audit_events.c.case_id, audit_events.c.seq)
                )
            )
            .mappings()
            .all()
        )
        read_model = {
            row.id: row
            for row in (
                await conn.execute(
                    select(cases.c.id, cases.c.seq, cases.c.stage, cases.c.outcome).where(cases.c.id.in_(list(plan)))
                )
            ).all()
        }
    trails: dict[str, list[AuditEntry]] = {case_id: [] for case_id in plan}
    for row in rows:
        trails[row["case_id"]].append(AuditEntry.model_validate(dict(row)))

    for case_id, (steps, outcome) in plan.items():
        trail = trails[case_id]
        expected_types = ["filed", *(action for action, _, _ in steps)]
        assert [e.seq for e in trail] == list(range(1, len(expected_types) + 1)), case_id
        assert [e.type for e in trail] == expected_types, case_id
        assert first_broken(trail) is None, case_id
        assert trail[-1].stage_after == "closed", case_id
        case = read_model[case_id]
        assert (case.seq, case.stage, case.outcome) == (len(expected_types), "closed", outcome), case_id

    recorded = [line for line in workers.log_lines() if line.get("event") == "case event recorded"]
    duplicates = sum(1 for line in recorded if line.get("duplicate"))
    print(
        f"\n{CASES} cases, {total_calls} updates in {elapsed:.1f}s; killed with {in_flight_at_kill} calls in "
        f"flight; {sum(driver.retries.values())} client retries; {len(recorded)} event writes logged, "
        f"{duplicates} of them duplicates absorbed"
    )
