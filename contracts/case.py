"""The case workflow's contract with its callers: its name and id, its Updates and their payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domain import events
from domain.filing import FilingRequest
from domain.idempotency import KeyClaim
from domain.model import Actor, CaseState, Stage
from domain.workflow_ids import case_workflow_id

CASE_WORKFLOW = "Case"
AUDIT_VERIFICATION_WORKFLOW = "AuditVerification"
AUDIT_VERIFICATION_SCHEDULE = "audit-verification"
FILE_UPDATE = events.FILE
"""The Update that files a case; every other Update is named after its `domain.model.Action`."""
FILE_UPDATE_ID = "file"
"""The filing Update's id: a repeated filing is the same Update, applied once."""
SNAPSHOT_QUERY = "snapshot"
"""The case as its workflow holds it (free text as references): what it took, whatever the read model shows."""
RETRY_STEPS_SIGNAL = "retry_steps"
"""Asks a case's workflow to try a failed step again now (an operator fixed its cause)."""
MAIL_UNDELIVERABLE_SIGNAL = events.MAIL_UNDELIVERABLE
"""Tells a case's workflow one of its e-mails is undeliverable, to put on its trail (`UndeliverableMail`)."""
CONSENT_WITHDRAWN_SIGNAL = events.CONSENT_WITHDRAWN
"""Tells a case's workflow some of its candidates withdrew their consent, to put on its trail (`ConsentWithdrawn`)."""


def workflow_id(case_id: str) -> str:
    """The id of the case's workflow (`domain.workflow_ids`)."""
    return case_workflow_id(case_id)


class Contract(BaseModel):
    """Every message that crosses Temporal is immutable."""

    model_config = ConfigDict(frozen=True)


class CaseInput(Contract):
    case_id: str
    state: CaseState | None = None
    history_limit: int = Field(2000, description="Continue as new once the history is this long.")
    service_levels: dict[Stage, int] | None = Field(None, description="Business days per waiting stage.")
    mail_waiting: bool = Field(False, description="E-mails recorded but not yet delivered by the last run.")
    withdrawals_told: list[str] = Field(default_factory=list, max_length=50,
                                        description="The last withdrawals of consent put on the trail (their ids)")


class FilingCommand(Contract):
    actor: Actor
    request: FilingRequest
    claim: KeyClaim | None = Field(None, description="The caller's Idempotency-Key, bound when the event is recorded")


class ActionCommand(Contract):
    actor: Actor
    payload: dict[str, Any] = Field(default_factory=dict)
    claim: KeyClaim | None = Field(None, description="The caller's Idempotency-Key, bound when the event is recorded")
    conflicts: list[str] = Field(default_factory=list, description="The companies the caller (and whom they stand "
                                 "in for) declared a conflict of interest with: `Actor.conflicts` is never sent")


class Receipt(Contract):
    """What an Update answers: the case's seq and stage right after recording. The caller reads the case
    itself from the read model; the whole case never crosses Temporal as an Update result."""

    seq: int
    stage: Stage


class UndeliverableMail(Contract):
    """An outbox message refused for good: its id, its template and the server's reply code (never the
    reply itself, which may name the person: the audit trail cannot forget; operators see it in the outbox)."""

    message: str
    template: str
    code: str | None = Field(None, description="The SMTP reply code (e.g. 550), or None when it never reached one")
    failed_at: datetime | None = Field(None, description="When it failed for good (a message readdressed or "
                                       "retried may fail again: each time is one event)")


class ConsentWithdrawn(Contract):
    """Candidates of the case that withdrew their consent to be matched in the registry (a case proposes at most
    100 candidates, `domain.fields.Limit`)."""

    sme_ids: list[str] = Field(max_length=100, description="Their corporate numbers")
    withdrawal: str | None = Field(None, description="The withdrawal's id (`consent_tellings.id`): told again, it is "
                                   "recorded once; None from senders before the durable list (each told once)")
