"""The nightly verification workflow alone, in the SDK's sandbox, its activities mocked, on the time-skipping server.

The product's worker runs workflows unsandboxed (issue 15), so the sandbox's checks of what a workflow imports and
calls happen here: a workflow module that reached for the network, the clock or a non-deterministic import at run
time would fail these tests, not the first night in production.
"""

from __future__ import annotations

import uuid

from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from contracts.activities import DELIVER_MAIL, VERIFY_AUDIT_TRAIL
from domain.verification import BrokenChain, VerificationSummary
from workers.case_worker import workflow_runner
from workflows.verification import AuditVerificationWorkflow


class MockedTrail:
    """A trail that is intact or has one broken chain, and the runs and mail the workflow asked for."""

    def __init__(self, broken: list[BrokenChain]) -> None:
        self.broken = broken
        self.runs: list[str] = []
        self.mailed: list[str] = []

    @activity.defn(name=VERIFY_AUDIT_TRAIL)
    async def verify_audit_trail(self, run: str) -> VerificationSummary:
        self.runs.append(run)
        return VerificationSummary(run=run, chains=3, events=12, broken=self.broken)

    @activity.defn(name=DELIVER_MAIL)
    async def deliver_mail(self, case_id: str) -> int:
        self.mailed.append(case_id)
        return 1


async def verify(env: WorkflowEnvironment, trail: MockedTrail) -> tuple[str, VerificationSummary]:
    queue = f"verify-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=queue, workflows=[AuditVerificationWorkflow],
                      activities=[trail.verify_audit_trail, trail.deliver_mail], workflow_runner=workflow_runner()):
        handle = await env.client.start_workflow(
            AuditVerificationWorkflow.run, id=f"verification-{uuid.uuid4()}", task_queue=queue)
        return handle.id, await handle.result()


async def test_an_intact_trail_is_verified_once_under_the_run_s_own_name(env: WorkflowEnvironment) -> None:
    trail = MockedTrail([])
    workflow_id, summary = await verify(env, trail)
    assert summary.intact and (summary.chains, summary.events) == (3, 12)
    assert len(trail.runs) == 1 and trail.runs[0].startswith(f"{workflow_id}/"), "the run names its result"
    assert trail.mailed == []


async def test_a_broken_chain_is_reported_and_left_to_the_mail_relay(env: WorkflowEnvironment) -> None:
    """Since the mail relay delivers the outbox, the workflow itself sends nothing (the e-mail to auditors is queued
    with the verification's event by the activity); older runs called `deliver_mail` themselves."""
    case_id = str(uuid.uuid4())
    trail = MockedTrail([BrokenChain(case_id=case_id, first_broken_seq=2, reason="hash does not match")])
    _, summary = await verify(env, trail)
    assert not summary.intact
    assert [(b.case_id, b.first_broken_seq) for b in summary.broken] == [(case_id, 2)]
    assert trail.mailed == []
