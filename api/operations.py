"""Operations: what an operator must see without reading logs — today, the incidents of stuck cases."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.deps import ServicesDep, require
from api.examples import problems
from domain.rules import OPERATORS
from services.incidents import open_incidents

router = APIRouter(tags=["operations"], responses=problems(401, 403))


class IncidentView(BaseModel):
    """A step of a case that keeps failing (or failed for good), open until it succeeds or is retried."""

    case_id: str | None = Field(description="The case, when the workflow is a case's")
    workflow_id: str
    step: str = Field(description="The activity (e.g. `rank_candidates`), or `workflow_task`")
    kind: str = Field(description="`permanent`, `transient`, `retrying` or `workflow_task`")
    attempts: int
    first_failure_at: datetime
    last_failure_at: datetime
    error: str = Field(description="One line naming the error (never a traceback)")


class IncidentList(BaseModel):
    incidents: list[IncidentView]


@router.get(
    "/api/operations/incidents",
    summary="Open incidents: steps of cases that keep failing (admins)",
    dependencies=[Depends(require(OPERATORS, "incidents are for operators (admins), not a {role}"))],
)
async def incidents(services: ServicesDep) -> IncidentList:
    found = await open_incidents(services.engine)
    return IncidentList(incidents=[IncidentView(**vars(i)) for i in found])
