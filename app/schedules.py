"""The Temporal Schedules the Case Desk keeps: today, the nightly audit verification."""

from __future__ import annotations

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from contracts.case import AUDIT_VERIFICATION_SCHEDULE
from workflows.verification import AuditVerificationWorkflow

log = structlog.get_logger(__name__)


def verification_schedule(cron: str, task_queue: str) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            AuditVerificationWorkflow.run, id=f"{AUDIT_VERIFICATION_SCHEDULE}-run", task_queue=task_queue
        ),
        spec=ScheduleSpec(cron_expressions=[cron], time_zone_name="Asia/Tokyo"),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_verification_schedule(client: Client, cron: str, task_queue: str) -> None:
    """Create the nightly verification, or bring an existing one to the configured time (idempotent);
    with no time configured, remove it."""
    if not cron.strip():
        try:
            await client.get_schedule_handle(AUDIT_VERIFICATION_SCHEDULE).delete()
            log.info("audit verification unscheduled")
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
        return
    schedule = verification_schedule(cron, task_queue)
    try:
        await client.create_schedule(AUDIT_VERIFICATION_SCHEDULE, schedule)
        log.info("audit verification scheduled", cron=cron)
    except ScheduleAlreadyRunningError:

        async def keep_current(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(AUDIT_VERIFICATION_SCHEDULE).update(keep_current)
