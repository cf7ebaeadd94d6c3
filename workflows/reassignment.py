"""A bulk reassignment (issue 21), `reassign-<job id>`: list the cases once, then reassign them a batch at a time.

The workflow holds a cursor, never the list: each batch is read from PostgreSQL (the cases still without an
outcome, after the cursor), its cases are reassigned at once (one activity each, which sends the case's own
`reassign` Update and keeps the outcome), and after `batches_per_run` batches — or sooner, when Temporal suggests
it — the workflow continues as new with the cursor, so its history stays bounded for 10,000 cases and more.
A worker that dies mid-batch is replaced by any other: the history replays, and the steps it had not finished run
again (each is idempotent: a case reassigned already is not reassigned twice).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from contracts.reassignment import (
        REASSIGNMENT_WORKFLOW,
        FinishReassignment,
        PendingCases,
        ReassignCase,
        ReassignmentInput,
        finish_reassignment,
        pending_reassignments,
        plan_reassignment,
        reassign_case,
    )

STEP_TIMEOUT = timedelta(seconds=60)
HEARTBEAT_TIMEOUT = timedelta(seconds=10)
"""`reassign_case` heartbeats every second: one silent this long died with its worker, and is tried again."""
STEP_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=500), maximum_interval=timedelta(seconds=30))
"""Steps retry until they succeed: `reassign_case` answers `failed` itself once it has tried enough."""


@workflow.defn(name=REASSIGNMENT_WORKFLOW)
class ReassignmentWorkflow:
    @workflow.run
    async def run(self, inp: ReassignmentInput) -> int:
        """Answer how many cases this run took care of (the job's figures are in PostgreSQL). A step of the job
        that fails for good marks it `failed` rather than leaving it running for ever."""
        try:
            return await self._run(inp)
        except ActivityError as error:
            await workflow.execute_activity(
                finish_reassignment, FinishReassignment(job_id=inp.job_id, failure=str(error.cause or error)),
                start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY)
            raise

    async def _run(self, inp: ReassignmentInput) -> int:
        if not inp.planned:
            total = await workflow.execute_activity(
                plan_reassignment, inp.job_id, start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY)
            workflow.logger.info("bulk reassignment of %d cases", total)
        after, handled = inp.after, 0
        for _ in range(inp.batches_per_run):
            batch = await workflow.execute_activity(
                pending_reassignments, PendingCases(job_id=inp.job_id, after=after, limit=inp.batch),
                start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY)
            if not batch:
                await workflow.execute_activity(finish_reassignment, FinishReassignment(job_id=inp.job_id),
                                                start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY)
                return handled
            await asyncio.gather(*(
                workflow.execute_activity(reassign_case, ReassignCase(job_id=inp.job_id, case_id=case_id),
                                          start_to_close_timeout=STEP_TIMEOUT, heartbeat_timeout=HEARTBEAT_TIMEOUT,
                                          retry_policy=STEP_RETRY)
                for case_id in batch
            ))
            after, handled = batch[-1], handled + len(batch)
            if workflow.info().is_continue_as_new_suggested():
                break
        workflow.continue_as_new(inp.model_copy(update={"after": after, "planned": True}))
