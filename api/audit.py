"""Audit routes for auditors: cross-check a case against its workflow, and export the trail."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.deps import ServicesDep, require_on_case
from api.examples import problems
from domain.crosscheck import Difference
from domain.rules import STAFF_AND_AUDITORS
from services.crosscheck import crosscheck_case

router = APIRouter(tags=["audit"], responses=problems(401, 403, 404, 422, 503))


class CrosscheckReport(BaseModel):
    """Whether every accepted Update of the case left exactly one audit event, and every such event has one."""

    consistent: bool
    updates: int = Field(description="Updates the case's workflow accepted, over all its runs")
    events: int = Field(description="The case's audit events that Updates record (timer events not counted)")
    differences: list[Difference] = Field(description="Oldest first; empty when consistent")


@router.get(
    "/api/cases/{case_id}/history/crosscheck",
    summary="Compare the audit trail with the workflow history: one event per accepted Update, and back",
    responses=problems(409),
    dependencies=[Depends(require_on_case(STAFF_AND_AUDITORS, "cross-checking is for staff and auditors"))],
)
async def crosscheck(case_id: str, services: ServicesDep) -> CrosscheckReport:
    """Who may: as for `/history/verify` — staff and auditors; an applicant learns only that it may not."""
    report = await crosscheck_case(services.temporal, services.sessions, case_id)
    return CrosscheckReport(consistent=report.consistent, updates=report.updates, events=report.events,
                            differences=list(report.differences))
