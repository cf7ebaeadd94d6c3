"""The case workflow alone, its activities mocked (as temporalio/samples-python tests workflows), on the
time-skipping server: no PostgreSQL, no SMTP. What it shows: a step that fails for good answers its Update
with `step_failed` and leaves the case as it was and open to other actions; a timer's step that fails waits
instead of failing the case, and is tried again when an operator asks; what crosses Temporal is a receipt; a
filing a lost workflow task stored is taken after the filing grace, and a start with no filing at all ends.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from contracts.activities import (
    DELIVER_MAIL,
    RANK_CANDIDATES,
    RECORD_CASE_EVENT,
    STORED_FILING,
    FindCandidates,
    Ranked,
    RecordCaseEvent,
    Recorded,
    StoredFiling,
)
from contracts.case import FILE_UPDATE, ActionCommand, CaseInput, FilingCommand, Receipt, workflow_id
from contracts.errors import STEP_FAILED
from domain.filing import FilingRequest
from domain.model import CaseState, Role, Stage
from domain.samples import sample_filing
from tests.helpers.people import APPLICANT_ACTOR, COORDINATOR_ACTOR, SBIC, officer_actor
from workers.case_worker import workflow_runner
from workflows.case import FILING_GRACE, CaseWorkflow

SBIC_OFFICER = officer_actor(SBIC)


class MockedSteps:
    """Activities standing in for the real ones: they remember what they were sent."""

    def __init__(self) -> None:
        self.recorded: list[RecordCaseEvent] = []
        self.fail_system_events = False
        self.stored: StoredFiling | None = None  # what `stored_filing` finds: a filing a lost workflow task stored

    @activity.defn(name=RECORD_CASE_EVENT)
    async def record_case_event(self, command: RecordCaseEvent) -> Recorded:
        if self.fail_system_events and command.header.actor["role"] == Role.SYSTEM:
            raise ApplicationError("event refused", type=STEP_FAILED, non_retryable=True)
        self.recorded.append(command)
        return Recorded(hash=f"hash-{command.header.seq}")

    @activity.defn(name=RANK_CANDIDATES)
    async def rank_candidates(self, command: FindCandidates) -> Ranked:
        raise ApplicationError("rank_candidates failed: RecursionError", {"step": RANK_CANDIDATES},
                               type=STEP_FAILED, non_retryable=True)

    @activity.defn(name=DELIVER_MAIL)
    async def deliver_mail(self, case_id: str) -> int:
        return 0

    @activity.defn(name=STORED_FILING)
    async def stored_filing(self, case_id: str) -> StoredFiling | None:
        return self.stored

    def activities(self) -> list[Callable[..., Any]]:
        return [self.record_case_event, self.rank_candidates, self.deliver_mail, self.stored_filing]


async def open_case(client: Client, queue: str, *, to_matching: bool = True) -> str:
    case_id = str(uuid.uuid4())
    start = WithStartWorkflowOperation(
        CaseWorkflow.run, CaseInput(case_id=case_id), id=workflow_id(case_id), task_queue=queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    filed = await client.execute_update_with_start_workflow(
        FILE_UPDATE, FilingCommand(actor=APPLICANT_ACTOR, request=FilingRequest.model_validate(sample_filing())),
        start_workflow_operation=start, id="file", result_type=Receipt,
    )
    assert filed == Receipt(seq=1, stage=Stage.SCREENING)
    if to_matching:
        handle = client.get_workflow_handle(workflow_id(case_id))
        await handle.execute_update("relay", ActionCommand(actor=COORDINATOR_ACTOR, payload={"offices": ["sbic"]}))
        await handle.execute_update("accept_case", ActionCommand(actor=SBIC_OFFICER, payload={}))
    return case_id


@pytest.fixture
async def mocked(env: WorkflowEnvironment) -> tuple[WorkflowEnvironment, MockedSteps, str]:
    return env, MockedSteps(), f"mocked-{uuid.uuid4()}"


async def test_a_step_that_fails_for_good_refuses_its_action_and_leaves_the_case_moving(
    mocked: tuple[WorkflowEnvironment, MockedSteps, str],
) -> None:
    env, steps, queue = mocked
    async with Worker(env.client, task_queue=queue, workflows=[CaseWorkflow], workflow_runner=workflow_runner(),
                      activities=[steps.record_case_event, steps.rank_candidates, steps.deliver_mail]):
        case_id = await open_case(env.client, queue)
        handle = env.client.get_workflow_handle(workflow_id(case_id))
        with pytest.raises(WorkflowUpdateFailedError) as failed:
            await handle.execute_update("run_matching", ActionCommand(actor=SBIC_OFFICER, payload={"limit": 5}))
        cause = failed.value.cause
        assert isinstance(cause, ActivityError) and isinstance(cause.cause, ApplicationError)
        assert cause.cause.type == STEP_FAILED
        state: CaseState | None = await handle.query(CaseWorkflow.snapshot)
        assert state is not None and (state.stage, state.seq) == (Stage.MATCHING, 3)  # nothing recorded
        noted = await handle.execute_update("add_note", ActionCommand(actor=SBIC_OFFICER, payload={"text": "call"}),
                                            result_type=Receipt)
        assert noted == Receipt(seq=4, stage=Stage.MATCHING)
        assert [r.header.type for r in steps.recorded] == ["filed", "relay", "accept_case", "add_note"]


async def test_a_timer_step_that_fails_waits_and_is_tried_again_when_asked(
    mocked: tuple[WorkflowEnvironment, MockedSteps, str],
) -> None:
    env, steps, queue = mocked
    steps.fail_system_events = True
    async with Worker(env.client, task_queue=queue, workflows=[CaseWorkflow], workflow_runner=workflow_runner(),
                      activities=[steps.record_case_event, steps.rank_candidates, steps.deliver_mail]):
        case_id = await open_case(env.client, queue, to_matching=False)
        handle = env.client.get_workflow_handle(workflow_id(case_id))
        await env.sleep(timedelta(days=10))  # past the screening reminder: its recording fails
        described = await handle.describe()
        assert described.status is not None and described.status.name == "RUNNING"  # the case did not fail
        assert all(r.header.actor["role"] != Role.SYSTEM for r in steps.recorded)
        steps.fail_system_events = False
        await handle.signal(CaseWorkflow.retry_steps)
        await env.sleep(timedelta(seconds=1))
        reminded = [r for r in steps.recorded if r.header.actor["role"] == Role.SYSTEM]
        assert reminded and reminded[0].header.type == "reminder"


async def started_without_its_filing(client: Client, queue: str) -> str:
    """A case's workflow whose filing Update never came back (its workflow task was lost after the local activity
    stored the filing, and the applicant never sent it again)."""
    case_id = str(uuid.uuid4())
    await client.start_workflow(CaseWorkflow.run, CaseInput(case_id=case_id), id=workflow_id(case_id), task_queue=queue)
    return case_id


async def test_a_filing_stored_by_a_lost_task_is_taken_after_the_filing_grace(
    mocked: tuple[WorkflowEnvironment, MockedSteps, str],
) -> None:
    env, steps, queue = mocked
    steps.stored = StoredFiling(request=FilingRequest.model_validate(sample_filing()), actor=APPLICANT_ACTOR,
                                at=datetime(2026, 12, 1, tzinfo=UTC), hash="hash-1")
    async with Worker(env.client, task_queue=queue, workflows=[CaseWorkflow], workflow_runner=workflow_runner(),
                      activities=steps.activities()):
        case_id = await started_without_its_filing(env.client, queue)
        handle = env.client.get_workflow_handle(workflow_id(case_id))
        await env.sleep(FILING_GRACE + timedelta(minutes=1))
        state: CaseState | None = await handle.query(CaseWorkflow.snapshot)
        assert state is not None and (state.stage, state.seq, state.last_hash) == (Stage.SCREENING, 1, "hash-1")
        relayed = await handle.execute_update("relay", ActionCommand(actor=COORDINATOR_ACTOR,
                                                                     payload={"offices": ["sbic"]}),
                                              result_type=Receipt)
        assert relayed.seq == 2
        assert [(r.header.type, r.header.seq, r.header.prev_hash) for r in steps.recorded] == [("relay", 2, "hash-1")]


async def test_a_workflow_with_no_filing_stored_ends_after_the_filing_grace(
    mocked: tuple[WorkflowEnvironment, MockedSteps, str],
) -> None:
    env, steps, queue = mocked
    async with Worker(env.client, task_queue=queue, workflows=[CaseWorkflow], workflow_runner=workflow_runner(),
                      activities=steps.activities()):
        case_id = await started_without_its_filing(env.client, queue)
        handle = env.client.get_workflow_handle(workflow_id(case_id))
        await env.sleep(FILING_GRACE + timedelta(minutes=1))
        assert await handle.result() is None
        assert steps.recorded == []
