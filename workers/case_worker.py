"""The case worker: the case workflow and the activities it calls, wired to their dependencies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.worker import Interceptor, UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities import mail
from activities.candidates import CandidateRanking
from activities.matching import Matching
from activities.reassignment import Reassigning
from activities.records import CaseRecords
from activities.verification import AuditVerification
from domain.matching import MatchWeights
from domain.signing import AuditKeys
from workflows.case import CaseWorkflow
from workflows.reassignment import ReassignmentWorkflow
from workflows.verification import AuditVerificationWorkflow


@dataclass(frozen=True)
class WorkerTuning:
    """How much one worker process takes on at once; several smaller workers scale out, one big one scales up."""

    max_concurrent_activities: int = 100
    max_concurrent_workflow_tasks: int = 100
    max_cached_workflows: int = 1000  # sticky cache: workflows kept in memory, so a new task needs no replay
    sandboxed: bool = False
    """Run workflows in the SDK's sandbox. Off in the product (issue 15): the sandbox re-imports the workflow's
    module for every case it starts and runs each payload's serialization-context lookup through `exec`, about a
    fifth of the worker's CPU under `make bench`. What the sandbox would catch is caught before code ships: the
    workflow tests with mocked activities and the replay of stored histories run it sandboxed
    (`workflow_runner()`), and everything a workflow imports besides `temporalio` is passed through (and so
    never was checked by the sandbox at run time)."""


def build_worker(
    client: Client,
    task_queue: str,
    engine: AsyncEngine,
    weights: MatchWeights | None = None,
    *,
    keys: AuditKeys,
    checkpoint_log: Path | None = None,
    checkpoint_url: str | None = None,
    tuning: WorkerTuning | None = None,
    matching: Matching | None = None,
    reassigning: Reassigning | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Worker:
    """The worker of every workflow and activity; `keys` sign what it records (`Settings.audit_keys`), and
    the nightly checkpoints also go to `checkpoint_log` (`Settings.checkpoint_log`; None: the table only) and
    `checkpoint_url` (AUDIT_CHECKPOINT_URL); `matching` replaces the engine's ranking and `reassigning` the bulk
    reassignment's steps and `interceptors` are the SDK's (tests)."""
    tuning = tuning or WorkerTuning()
    records = CaseRecords(engine, keys.signer, keys.keyring)
    matching = matching or Matching(engine, weights)
    ranking = CandidateRanking(engine, matching)
    verification = AuditVerification(engine, keys, checkpoint_log, checkpoint_url)
    reassigning = reassigning or Reassigning(engine)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[CaseWorkflow, AuditVerificationWorkflow, ReassignmentWorkflow],
        activities=[
            records.record_case_event,
            records.stored_filing,  # a filing whose Update never came back (`workflows.case`)
            ranking.rank_candidates,
            records.record_event,  # cases recorded before their free text left the workflow
            matching.find_candidates,  # likewise
            mail.deliver_mail,  # cases from before the mail relay: it answers at once
            verification.verify_audit_trail,
            reassigning.plan_reassignment,
            reassigning.pending_reassignments,
            reassigning.reassign_case,
            reassigning.finish_reassignment,
        ],
        workflow_runner=workflow_runner() if tuning.sandboxed else UnsandboxedWorkflowRunner(),
        interceptors=interceptors,
        graceful_shutdown_timeout=timedelta(seconds=10),  # running activities get this long, then are cancelled
        max_concurrent_activities=tuning.max_concurrent_activities,
        max_concurrent_workflow_tasks=tuning.max_concurrent_workflow_tasks,
        max_cached_workflows=tuning.max_cached_workflows,
    )


def workflow_runner() -> WorkflowRunner:
    """The sandbox, told that pydantic's lazily imported e-mail validation is safe to share."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules("email_validator", "idna", "dns", "holidays")
    )
