"""The steps of a bulk reassignment (issue 21): list the cases, hand out batches, reassign one case, finish.

Reassigning one case is its own `reassign` Update, sent as the person who asked for the bulk reassignment and
judged by the case's workflow like any other (`domain.rules.check`), with an Idempotency-Key of the job and the
case: the recording step binds the key in the event's transaction, so a step retried after a crash — even after
the case's workflow continued as new — finds the key used and reassigns nothing twice.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.failures import classified
from contracts.case import ActionCommand, Receipt, workflow_id
from contracts.errors import KEY_USED, NOT_FILED
from contracts.reassignment import (
    FINISH_REASSIGNMENT,
    PENDING_REASSIGNMENTS,
    PLAN_REASSIGNMENT,
    REASSIGN_CASE,
    FinishReassignment,
    PendingCases,
    ReassignCase,
)
from domain.errors import Unreplayable
from domain.idempotency import KeyClaim, fingerprint
from domain.model import Action, CaseState
from domain.payloads import Reassign
from domain.reassignment import Reassignment, ReassignOutcome
from domain.rules import check
from infra.case_rows import stored_case
from infra.idempotency import key_use
from infra.reassignments import finish, outcome_of, pending_cases, plan_cases, reassignment, record_outcome
from infra.tables import cases

KEY_KEPT = timedelta(days=30)
"""How long a bulk reassignment's Idempotency-Keys are remembered: longer than any such job runs."""
HEARTBEAT_EVERY = timedelta(seconds=1)
Result = tuple[ReassignOutcome, str | None]


def _refusal_of(error: WorkflowUpdateFailedError) -> Result | None:
    """What the case's workflow answered instead of reassigning, or None when it is not a refusal."""
    cause = error.cause
    while isinstance(cause, ActivityError) and cause.cause is not None:
        cause = cause.cause
    if not isinstance(cause, ApplicationError) or cause.type == NOT_FILED:  # not yet filed: tried again
        return None
    if cause.type == KEY_USED:  # this very reassignment was recorded by an earlier attempt
        return ReassignOutcome.REASSIGNED, "applied by an earlier attempt"
    details = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
    if "kind" in details:
        return ReassignOutcome.REFUSED, str(cause.message)
    return ReassignOutcome.FAILED, str(cause.message)


async def _heartbeats() -> None:
    while True:
        activity.heartbeat()
        await asyncio.sleep(HEARTBEAT_EVERY.total_seconds())


class Reassigning:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @activity.defn(name=PLAN_REASSIGNMENT)
    @classified(PLAN_REASSIGNMENT)
    async def plan_reassignment(self, job_id: str) -> int:
        return await plan_cases(self.engine, job_id)

    @activity.defn(name=PENDING_REASSIGNMENTS)
    @classified(PENDING_REASSIGNMENTS)
    async def pending_reassignments(self, query: PendingCases) -> list[str]:
        return await pending_cases(self.engine, query.job_id, query.after, query.limit)

    @activity.defn(name=FINISH_REASSIGNMENT)
    @classified(FINISH_REASSIGNMENT)
    async def finish_reassignment(self, finished: FinishReassignment) -> None:
        await finish(self.engine, finished.job_id, finished.failure)

    @activity.defn(name=REASSIGN_CASE)
    async def reassign_case(self, step: ReassignCase) -> ReassignOutcome:
        """The case's outcome, kept once: a step that keeps failing for good is `failed`, not a failed job. It
        heartbeats while it waits on the case, so a worker that dies mid-step has it tried again within the
        workflow's heartbeat timeout rather than its whole time limit."""
        if (done := await outcome_of(self.engine, step.job_id, step.case_id)) is not None:
            return done
        beating = asyncio.create_task(_heartbeats())
        try:
            outcome, detail = await self._reassign(step)
        except ApplicationError as error:
            if not error.non_retryable:
                raise
            outcome, detail = ReassignOutcome.FAILED, str(error.message)
        finally:
            beating.cancel()
        return await record_outcome(self.engine, step.job_id, step.case_id, outcome, detail)

    @classified(REASSIGN_CASE)
    async def _reassign(self, step: ReassignCase) -> Result:
        job = await reassignment(self.engine, step.job_id)
        assert job is not None, f"no bulk reassignment {step.job_id}"
        to = job.taking_over
        payload = Reassign(assignee=to.name, assignee_id=to.id, assignee_org=to.org)
        sent = payload.recorded()
        claim = KeyClaim(caller_id=job.requested_by.id, key=f"bulk-reassign:{job.id}:{step.case_id}",
                         fingerprint=fingerprint(step.case_id, Action.REASSIGN, sent),
                         expires_at=job.created_at + KEY_KEPT)
        if await key_use(self.engine, claim.caller_id, claim.key) is not None:
            return ReassignOutcome.REASSIGNED, "applied by an earlier attempt"
        try:
            state = await self._case(step.case_id)
        except Unreplayable as damaged:  # its read model's row holds no case: no retry reads it
            return ReassignOutcome.FAILED, damaged.detail
        if state is None:
            return ReassignOutcome.REFUSED, "no such case"
        if state.assignee_id != job.leaving.id:
            return ReassignOutcome.SKIPPED, f"assigned to {state.assignee or 'nobody'} now, not {job.leaving.name}"
        if (refusal := check(state, job.requested_by, Action.REASSIGN, payload)) is not None:
            return ReassignOutcome.REFUSED, refusal.detail
        return await self._send(job, step.case_id, sent, claim)

    async def _send(self, job: Reassignment, case_id: str, sent: dict[str, object], claim: KeyClaim) -> Result:
        handle = activity.client().get_workflow_handle(workflow_id(case_id))
        try:
            await handle.execute_update(
                Action.REASSIGN, ActionCommand(actor=job.requested_by, payload=sent, claim=claim),
                id=f"{claim.caller_id}:{claim.key}", result_type=Receipt,
            )
        except WorkflowUpdateFailedError as error:
            if (answer := _refusal_of(error)) is None:
                raise
            return answer
        except WorkflowUpdateRPCTimeoutOrCancelledError as error:  # the case's worker is slow or away: try again
            raise TimeoutError(str(error)) from error
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            return ReassignOutcome.REFUSED, "the case's workflow has ended"
        return ReassignOutcome.REASSIGNED, None

    async def _case(self, case_id: str) -> CaseState | None:
        async with self.engine.connect() as conn:
            snapshot = await conn.scalar(select(cases.c.snapshot).where(cases.c.id == case_id))
        return None if snapshot is None else stored_case(snapshot, case_id)
