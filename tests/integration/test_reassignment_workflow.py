"""The bulk reassignment workflow alone over 10,000 cases, its activities mocked, on the time-skipping server.

What it shows: with the settings the service starts it with, the workflow continues as new every 1,000 cases (sooner
when Temporal suggests it), so no run's history grows with the number of cases; what each run holds and starts with
is a cursor, never the list; every case is taken care of exactly once, and the job is finished once.
"""

from __future__ import annotations

import bisect
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from contracts.errors import STEP_FAILED
from contracts.reassignment import (
    FINISH_REASSIGNMENT,
    PENDING_REASSIGNMENTS,
    PLAN_REASSIGNMENT,
    REASSIGN_CASE,
    FinishReassignment,
    PendingCases,
    ReassignCase,
    ReassignmentInput,
    reassignment_workflow_id,
)
from domain.reassignment import ReassignOutcome
from workers.case_worker import workflow_runner
from workflows.reassignment import ReassignmentWorkflow

CASES = 10_000


class MockedJob:
    """The job's steps over an in-memory list of case ids, remembering which run of the workflow asked what."""

    def __init__(self, count: int) -> None:
        self.case_ids = sorted(str(uuid.UUID(int=n + 1)) for n in range(count))
        self.handled: Counter[str] = Counter()
        self.cases_by_run: Counter[str] = Counter()
        self.plans = self.finishes = 0
        self.failure: str | None = None

    @activity.defn(name=PLAN_REASSIGNMENT)
    async def plan_reassignment(self, job_id: str) -> int:
        self.plans += 1
        return len(self.case_ids)

    @activity.defn(name=PENDING_REASSIGNMENTS)
    async def pending_reassignments(self, query: PendingCases) -> list[str]:
        start = bisect.bisect_right(self.case_ids, query.after) if query.after else 0
        return [c for c in self.case_ids[start:start + query.limit] if not self.handled[c]]

    @activity.defn(name=REASSIGN_CASE)
    async def reassign_case(self, step: ReassignCase) -> ReassignOutcome:
        self.handled[step.case_id] += 1
        self.cases_by_run[activity.info().workflow_run_id or ""] += 1
        return ReassignOutcome.REASSIGNED

    @activity.defn(name=FINISH_REASSIGNMENT)
    async def finish_reassignment(self, finished: FinishReassignment) -> None:
        self.finishes += 1
        self.failure = finished.failure


async def run_job(env: WorkflowEnvironment, job: MockedJob, inp: ReassignmentInput) -> str:
    """Run the workflow to its end over the mocked job; its workflow id."""
    queue = f"reassign-{uuid.uuid4()}"
    steps: list[Callable[..., Any]] = [job.plan_reassignment, job.pending_reassignments, job.reassign_case,
                                       job.finish_reassignment]
    async with Worker(env.client, task_queue=queue, workflows=[ReassignmentWorkflow], activities=steps,
                      workflow_runner=workflow_runner(), max_concurrent_activities=100):
        handle = await env.client.start_workflow(
            ReassignmentWorkflow.run, inp, id=reassignment_workflow_id(inp.job_id), task_queue=queue)
        await handle.result()
    return handle.id


async def test_a_run_ends_after_its_batches_and_the_next_carries_on_from_its_cursor(env: WorkflowEnvironment) -> None:
    job = MockedJob(95)
    await run_job(env, job, ReassignmentInput(job_id=str(uuid.uuid4()), batch=10, batches_per_run=3))
    assert set(job.handled) == set(job.case_ids) and set(job.handled.values()) == {1}
    assert sorted(job.cases_by_run.values()) == [5, 30, 30, 30] and (job.plans, job.finishes) == (1, 1)


@pytest.mark.long
async def test_ten_thousand_cases_in_runs_of_bounded_history(env: WorkflowEnvironment) -> None:
    job, job_id = MockedJob(CASES), str(uuid.uuid4())
    workflow_id = await run_job(env, job, ReassignmentInput(job_id=job_id))

    assert set(job.handled) == set(job.case_ids) and set(job.handled.values()) == {1}
    assert (job.plans, job.finishes) == (1, 1)
    defaults = ReassignmentInput(job_id=job_id)
    per_run = defaults.batch * defaults.batches_per_run
    assert max(job.cases_by_run.values()) <= per_run  # fewer when Temporal suggests continuing sooner
    assert len(job.cases_by_run) >= CASES // per_run
    last_run = (await env.client.get_workflow_handle(workflow_id).describe()).run_id
    for run_id in job.cases_by_run:
        history = await env.client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        assert len(history.events) < 5 * per_run  # about four events a case, whatever the number of cases
        started = history.events[0].workflow_execution_started_event_attributes.input.payloads[0].data
        assert len(started) < 300  # the job's id and a cursor
        if run_id != last_run:  # every run but the last carries on as a new one
            assert history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    # The last run completes (it may have had no case left to reassign, only the job to finish).
    last = await env.client.get_workflow_handle(workflow_id, run_id=last_run).fetch_history()
    assert last.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED


class FailingPlan(MockedJob):
    @activity.defn(name=PLAN_REASSIGNMENT)
    async def plan_reassignment(self, job_id: str) -> int:
        raise ApplicationError("plan_reassignment failed: RecursionError", type=STEP_FAILED, non_retryable=True)


async def test_a_job_whose_own_step_fails_for_good_is_marked_failed_not_left_running(env: WorkflowEnvironment) -> None:
    job = FailingPlan(3)
    with pytest.raises(WorkflowFailureError):
        await run_job(env, job, ReassignmentInput(job_id=str(uuid.uuid4())))
    assert job.finishes == 1 and "RecursionError" in (job.failure or "") and not job.handled
