"""The bulk reassignment workflow's contract (issue 21): its name and id, its input, its activities' stubs.

What crosses Temporal is bounded whatever the number of cases: the input is the job's id and a cursor (the last
case id done), each batch a list of at most `ReassignmentInput.batch` case ids, each step's answer one outcome.
The cases and their results are in PostgreSQL (`infra.reassignments`).
"""

from __future__ import annotations

from pydantic import Field
from temporalio import activity

from contracts.case import Contract
from domain.reassignment import ReassignOutcome

REASSIGNMENT_WORKFLOW = "BulkReassignment"
PLAN_REASSIGNMENT = "plan_reassignment"
PENDING_REASSIGNMENTS = "pending_reassignments"
REASSIGN_CASE = "reassign_case"
FINISH_REASSIGNMENT = "finish_reassignment"


def reassignment_workflow_id(job_id: str) -> str:
    return f"reassign-{job_id}"


class ReassignmentInput(Contract):
    job_id: str
    after: str | None = Field(None, description="The last case id of the batches done by earlier runs")
    planned: bool = Field(False, description="The cases are listed already (a continued run)")
    batch: int = Field(25, ge=1, le=200, description="Cases reassigned at once")
    batches_per_run: int = Field(40, ge=1, description="Batches before the workflow continues as new")


class PendingCases(Contract):
    job_id: str
    after: str | None
    limit: int


class FinishReassignment(Contract):
    job_id: str
    failure: str | None = Field(None, description="Why the job stopped short (None: every case had its turn)")


class ReassignCase(Contract):
    job_id: str
    case_id: str


# -- typed stubs, implemented by `activities.reassignment.Reassigning` ---------------------------------------------


@activity.defn(name=PLAN_REASSIGNMENT)
async def plan_reassignment(job_id: str) -> int:
    """List the job's matching cases once; answer how many there are."""
    raise NotImplementedError(PLAN_REASSIGNMENT)


@activity.defn(name=PENDING_REASSIGNMENTS)
async def pending_reassignments(query: PendingCases) -> list[str]:
    """The next case ids (id order, after `after`) without an outcome yet."""
    raise NotImplementedError(PENDING_REASSIGNMENTS)


@activity.defn(name=REASSIGN_CASE)
async def reassign_case(step: ReassignCase) -> ReassignOutcome:
    """Reassign one case by its `reassign` Update (exactly once) and keep its outcome."""
    raise NotImplementedError(REASSIGN_CASE)


@activity.defn(name=FINISH_REASSIGNMENT)
async def finish_reassignment(finished: FinishReassignment) -> None:
    """Mark the job done, or failed."""
    raise NotImplementedError(FINISH_REASSIGNMENT)
