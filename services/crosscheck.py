"""Read both sides of a case's cross-check: the Updates its workflow accepted (every run) and its audit trail."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.update.v1 import Outcome
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode

from contracts.activities import STORED_FILING
from contracts.case import FILE_UPDATE, workflow_id
from domain.audit import AuditEntry
from domain.crosscheck import AcceptedUpdate, Crosscheck, UpdateOutcome, compare
from domain.errors import HistoryUnavailable
from infra.audit_trail import stored_entries

log = structlog.get_logger(__name__)

ACCEPTED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
COMPLETED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED
SCHEDULED = EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
ACTIVITY_COMPLETED = EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
TOOK_FILING = "stored-filing"
"""The id a filing its workflow took from the trail goes by, as the `file` Update it stands for."""
READ_ATTEMPTS = 5


async def run_histories(client: Client, workflow: str) -> list[tuple[str, WorkflowHistory]]:
    """Every run's history, oldest first: back from the current run along `continued_execution_run_id`.

    Backwards because only the current run is found by id alone; a run that continues while we read is
    simply not part of this snapshot.
    """
    runs: list[tuple[str, WorkflowHistory]] = []
    try:
        # The raw call: the SDK's describe() cannot read every search attribute the test server returns.
        execution = WorkflowExecution(workflow_id=workflow)
        described = await client.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(namespace=client.namespace, execution=execution)
        )
        run_id: str | None = described.workflow_execution_info.execution.run_id
        while run_id and run_id not in {r for r, _ in runs}:
            history = await client.get_workflow_handle(workflow, run_id=run_id).fetch_history()
            runs.append((run_id, history))
            first = history.events[0] if history.events else None
            run_id = first.workflow_execution_started_event_attributes.continued_execution_run_id if first else None
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise HistoryUnavailable(f"Temporal no longer holds the history of {workflow}") from error
        raise
    runs.reverse()
    return runs


async def _reported_seq(client: Client, outcome: Outcome) -> int | None:
    """The case's seq in an Update's result (a `Receipt`; a whole CaseState before bounded case state), or None
    when the result says none."""
    if not outcome.success.payloads:
        return None
    try:
        (value,) = await client.data_converter.decode(outcome.success.payloads[:1])
    except Exception as error:  # an undecodable result: pair the Update by order instead
        log.warning("update result not readable", error=str(error))
        return None
    seq: Any = value.get("seq") if isinstance(value, dict) else getattr(value, "seq", None)
    return seq if isinstance(seq, int) else None


async def _took_filing(client: Client, result: Any) -> bool:
    """Whether a `stored_filing` activity's result is a filing (its workflow then took it), not None."""
    if not result.payloads:
        return False
    try:
        (value,) = await client.data_converter.decode(result.payloads[:1])
    except Exception as error:
        log.warning("stored filing's result not readable", error=str(error))
        return False
    return value is not None


async def accepted_updates(client: Client, workflow: str) -> list[AcceptedUpdate]:
    """The Updates the workflow accepted, in acceptance order over all its runs, each with how it ended. A filing
    the workflow took from the trail (`stored_filing`: the Update that recorded it never came back, issue 15)
    counts as its `file` Update, completed as event 1."""
    updates: list[AcceptedUpdate] = []
    for run_id, history in await run_histories(client, workflow):
        accepted: dict[str, HistoryEvent] = {}
        ended: dict[str, tuple[UpdateOutcome, int | None]] = {}
        asked: set[int] = set()
        for event in history.events:
            if event.event_type == ACCEPTED:
                request = event.workflow_execution_update_accepted_event_attributes.accepted_request
                accepted[request.meta.update_id] = event
            elif (event.event_type == SCHEDULED
                  and event.activity_task_scheduled_event_attributes.activity_type.name == STORED_FILING):
                asked.add(event.event_id)
            elif (event.event_type == ACTIVITY_COMPLETED
                  and event.activity_task_completed_event_attributes.scheduled_event_id in asked
                  and await _took_filing(client, event.activity_task_completed_event_attributes.result)):
                accepted[TOOK_FILING] = event
                ended[TOOK_FILING] = (UpdateOutcome.COMPLETED, 1)
            elif event.event_type == COMPLETED:
                attributes = event.workflow_execution_update_completed_event_attributes
                if attributes.outcome.HasField("failure"):
                    ended[attributes.meta.update_id] = (UpdateOutcome.FAILED, None)
                else:
                    seq = await _reported_seq(client, attributes.outcome)
                    ended[attributes.meta.update_id] = (UpdateOutcome.COMPLETED, seq)
        for update_id, event in accepted.items():  # dicts keep insertion order: the order of acceptance
            outcome, seq = ended.get(update_id, (UpdateOutcome.RUNNING, None))
            name = (FILE_UPDATE if update_id == TOOK_FILING
                    else event.workflow_execution_update_accepted_event_attributes.accepted_request.input.name)
            updates.append(AcceptedUpdate(name, update_id, outcome, seq, run_id))
    return updates


def _same(a: list[AuditEntry], b: list[AuditEntry]) -> bool:
    return [(e.seq, e.hash) for e in a] == [(e.seq, e.hash) for e in b]


async def crosscheck_case(client: Client, sessions: async_sessionmaker[AsyncSession], case_id: str) -> Crosscheck:
    """Compare the case's accepted Updates with its audit events, read as one consistent snapshot.

    The trail is read before and after the history; when it did not move meanwhile, every event in it was
    recorded by an Update the history already holds, and every Update the history shows as completed has its
    event in it (recording commits before the Update completes). A busy case is read again a few times.
    """
    workflow = workflow_id(case_id)
    for attempt in range(1, READ_ATTEMPTS + 1):
        before = await stored_entries(sessions, case_id)
        updates = await accepted_updates(client, workflow)
        entries = await stored_entries(sessions, case_id)
        if _same(before, entries):
            break
        log.info("audit trail moved while reading the history; reading again", attempt=attempt)
        await asyncio.sleep(0.05 * attempt)
    else:
        log.warning("case kept moving; cross-checked the last reading", attempts=READ_ATTEMPTS)
    report = compare(updates, entries)
    log.info("case cross-checked", case_id=case_id, consistent=report.consistent, updates=report.updates,
             events=report.events, differences=len(report.differences))
    return report
