"""Operations: what an operator must see without reading logs — the incidents of stuck cases and the mail
that does not leave."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.deps import ServicesDep, require
from api.examples import problems
from domain.rules import OPERATORS
from domain.workflow_ids import CASE_ID_PATTERN
from services import mail_outbox
from services.incidents import open_incidents
from services.mail_outbox import Status

router = APIRouter(tags=["operations"], responses=problems(401, 403, 422, 503))


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
    dependencies=[Depends(require(OPERATORS, "incidents are for operators (admins), not {a_role}"))],
)
async def incidents(services: ServicesDep) -> IncidentList:
    found = await open_incidents(services.engine)
    return IncidentList(incidents=[IncidentView(**vars(i)) for i in found])


class MailView(BaseModel):
    """One outbox message: `pending` (with its next try), `sent`, `undeliverable` (refused for good; `alliance
    mail retry ID` once the cause is fixed) or `cancelled` (its address was erased)."""

    id: str = Field(description="The message's id; its Message-ID is `<id@case-desk>`")
    case_id: str
    seq: int = Field(description="The audit event that caused it")
    template: str
    recipient_email: str
    status: Status
    attempts: int
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None = Field(description="When a pending message is tried next")
    sent_at: datetime | None
    last_error: str | None = Field(description="The server's last answer, or why the message could not be sent")


class MailList(BaseModel):
    messages: list[MailView]


@router.get(
    "/api/operations/mail",
    summary="The outbox: messages pending, undeliverable, sent or cancelled, newest first (admins)",
    dependencies=[Depends(require(OPERATORS, "the outbox is for operators (admins), not {a_role}"))],
)
async def mail(
    services: ServicesDep,
    status: Annotated[Status | None, Query(description="Only messages with this status")] = None,
    case: Annotated[str | None, Query(pattern=CASE_ID_PATTERN,
                                      description="Only the messages of this case (its id)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="How many, newest first")] = 100,
) -> MailList:
    found = await mail_outbox.messages(services.engine, status, case, limit=limit)
    return MailList(messages=[MailView(**vars(m)) for m in found])
