"""Stuck cases made visible: find from Temporal the steps that keep failing, keep them as incidents, and let an
operator retry a case once its cause is fixed.

Two sources, neither guessed: a failing activity reports itself (`activities.failures`), and `scan` reads
Temporal's own view of every running case workflow — activities still retrying after `RETRYING_ATTEMPTS`
attempts, and workflow tasks that keep failing (the workflow's code itself, which no activity can report).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from contracts.case import CASE_WORKFLOW, RETRY_STEPS_SIGNAL, workflow_id
from domain.errors import CaseNotFound
from domain.workflow_ids import case_of_workflow
from infra.audit_trail import case_on_record
from infra.consent_tellings import make_due
from infra.idempotency import forget_expired_keys
from infra.incidents import (
    Incident,
    IncidentTally,
    keep_scanned,
    open_incidents,
    resolve_incidents,
    scanning,
    take_scan_turn,
    tally_incidents,
)

log = structlog.get_logger(__name__)

RETRYING_ATTEMPTS = 3
"""An activity still retrying after this many attempts is an incident (transient errors included)."""
WORKFLOW_TASK_ATTEMPTS = 2
"""A workflow task that failed once is retried at once; failing again, it is an incident."""
SCAN_CONCURRENCY = 8
RUNNING_CASES = f"WorkflowType = '{CASE_WORKFLOW}' AND ExecutionStatus = 'Running'"
ERROR_CHARS = 500


def _when(timestamp: object, fallback: datetime) -> datetime:
    """A protobuf Timestamp as an aware datetime (the fallback when it is unset)."""
    seconds = getattr(timestamp, "seconds", 0)
    return timestamp.ToDatetime(tzinfo=UTC) if seconds else fallback  # type: ignore[attr-defined]


async def _stuck_steps(client: Client, workflow: str) -> list[Incident]:
    try:
        described = await client.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(namespace=client.namespace,
                                             execution=WorkflowExecution(workflow_id=workflow))
        )
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:  # ended meanwhile
            return []
        raise
    now = datetime.now(UTC)
    found = []
    for pending in described.pending_activities:
        if pending.attempt >= RETRYING_ATTEMPTS:
            message = pending.last_failure.message[:ERROR_CHARS] or "retrying"
            found.append(Incident(workflow, case_of_workflow(workflow), pending.activity_type.name, "retrying",
                                  pending.attempt, _when(pending.scheduled_time, now),
                                  _when(pending.last_attempt_complete_time, now), message))
    task = described.pending_workflow_task
    if task.attempt >= WORKFLOW_TASK_ATTEMPTS:
        found.append(Incident(workflow, case_of_workflow(workflow), "workflow_task", "workflow_task", task.attempt,
                              _when(task.original_scheduled_time, now), _when(task.scheduled_time, now),
                              f"the workflow's task failed {task.attempt - 1} time(s); see the worker's log"))
    return found


async def scan(client: Client, engine: AsyncEngine) -> list[Incident]:
    """Read every running case workflow's pending work from Temporal; keep what is stuck as incidents (and
    resolve the scanned ones that are not stuck any more). Returns what it found."""
    gate = asyncio.Semaphore(SCAN_CONCURRENCY)

    async def one(workflow: str) -> list[Incident]:
        async with gate:
            return await _stuck_steps(client, workflow)

    workflows = [execution.id async for execution in client.list_workflows(RUNNING_CASES)]
    found = [incident for batch in await asyncio.gather(*(one(w) for w in workflows)) for incident in batch]
    await keep_scanned(engine, found, workflows)
    log.info("incidents scanned", workflows=len(workflows), stuck=len(found))
    return found


async def scan_turn(client: Client, engine: AsyncEngine, every: float) -> bool:
    """One turn of the watch: when this worker takes it (`infra.incidents.take_scan_turn`: one worker of a
    deployment at a time), scan for incidents and forget expired Idempotency-Keys. Whether it did."""
    async with scanning(engine) as alone:  # none while another's scan, slower than the interval, goes on
        if not alone or not await take_scan_turn(engine, every):
            return False
        await scan(client, engine)
        await forget_expired_keys(engine)
        return True


async def watch(client: Client, engine: AsyncEngine, every: float, stop: asyncio.Event) -> None:
    """Every `every` seconds until `stop` is set: a turn of the scan (`scan_turn`). A failed turn is logged and
    tried again at the next."""
    while not stop.is_set():
        try:
            await scan_turn(client, engine, every)
        except Exception as error:  # the watch must outlive a Temporal or database outage
            log.warning("incident scan failed", error=str(error)[:ERROR_CHARS])
        try:
            await asyncio.wait_for(stop.wait(), every)
        except TimeoutError:
            pass


async def retry(client: Client, engine: AsyncEngine, case_id: str) -> int:
    """The cause is fixed: ask the case's workflow to try its failed steps again now, make its untold withdrawals
    of consent due (`services.consent_courier`), and resolve the case's open incidents (a step that fails again
    opens a new one). How many were resolved. Raises `CaseNotFound` when no case or incident has that id."""
    if not await case_on_record(engine, case_id) and not await open_incidents(engine, case_id):
        raise CaseNotFound(f"unknown case {case_id}: no case or open incident has that id")
    await make_due(engine, case_id, datetime.now(UTC))
    try:
        await client.get_workflow_handle(workflow_id(case_id)).signal(RETRY_STEPS_SIGNAL)
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:  # an ended case has nothing to retry
            raise
    return await resolve_incidents(engine, case_id)


__all__ = ["Incident", "IncidentTally", "open_incidents", "retry", "scan", "scan_turn", "tally_incidents", "watch"]
