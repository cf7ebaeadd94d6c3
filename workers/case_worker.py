"""The case worker: the case workflow and the activities it calls, wired to their dependencies."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.mail import MailCourier, SmtpSettings
from activities.matching import Matching
from activities.records import CaseRecords
from activities.verification import AuditVerification
from domain.matching import MatchWeights
from workflows.case import CaseWorkflow
from workflows.verification import AuditVerificationWorkflow


def build_worker(
    client: Client, task_queue: str, engine: AsyncEngine, smtp: SmtpSettings, weights: MatchWeights | None = None
) -> Worker:
    records = CaseRecords(engine)
    matching = Matching(engine, weights)
    courier = MailCourier(engine, smtp)
    verification = AuditVerification(engine)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[CaseWorkflow, AuditVerificationWorkflow],
        activities=[
            records.record_event,
            matching.find_candidates,
            courier.deliver_mail,
            verification.verify_audit_trail,
        ],
        workflow_runner=workflow_runner(),
        graceful_shutdown_timeout=timedelta(seconds=10),  # running activities get this long, then are cancelled
    )


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox, told that pydantic's lazily imported e-mail validation is safe to share."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules("email_validator", "idna", "dns", "holidays")
    )
