"""The nightly verification of the whole audit trail, started by a Temporal Schedule.

A workflow (not a cron job) so that a verification interrupted by a deploy resumes, its outcome is in
Temporal's history, and the auditors' e-mail is in the outbox with its event (the mail relay sends it).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from contracts.activities import deliver_mail, verify_audit_trail
    from contracts.case import AUDIT_VERIFICATION_WORKFLOW
    from domain.verification import OVERSIGHT_CHAIN, VerificationSummary

MAIL_RELAY = "mail-leaves-the-workflow"  # runs from before the mail relay delivered the outbox themselves
MAIL_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), backoff_coefficient=2,
                         maximum_interval=timedelta(minutes=5))


@workflow.defn(name=AUDIT_VERIFICATION_WORKFLOW)
class AuditVerificationWorkflow:
    @workflow.run
    async def run(self) -> VerificationSummary:
        info = workflow.info()
        summary = await workflow.execute_activity(
            verify_audit_trail,
            f"{info.workflow_id}/{info.run_id}",
            start_to_close_timeout=timedelta(hours=2),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=RetryPolicy(maximum_attempts=5),
        )
        if not summary.intact and not workflow.patched(MAIL_RELAY):
            await workflow.execute_activity(
                deliver_mail, OVERSIGHT_CHAIN, start_to_close_timeout=timedelta(minutes=1), retry_policy=MAIL_RETRY
            )
        return summary
