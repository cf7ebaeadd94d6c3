"""What passes between the API, the case workflow and its activities (names and payload models)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domain.audit import AuditEntry
from domain.model import Actor, CaseState, FilingRequest, Seeking, Stage
from domain.notifications import Notice
from domain.payloads import MatchingCriteria

RECORD_EVENT = "record_event"
FIND_CANDIDATES = "find_candidates"
DELIVER_MAIL = "deliver_mail"
VERIFY_AUDIT_TRAIL = "verify_audit_trail"
AUDIT_VERIFICATION_SCHEDULE = "audit-verification"
FILE_UPDATE = "file"
FILE_UPDATE_ID = "file"


def workflow_id(case_id: str) -> str:
    return f"case-{case_id}"


class Contract(BaseModel):
    model_config = ConfigDict(frozen=True)


class CaseInput(Contract):
    case_id: str
    state: CaseState | None = None
    history_limit: int = Field(2000, description="Continue as new once the history is this long.")
    service_levels: dict[Stage, int] | None = Field(None, description="Business days per waiting stage.")
    mail_waiting: bool = Field(False, description="E-mails recorded but not yet delivered by the last run.")


class FilingCommand(Contract):
    actor: Actor
    request: FilingRequest


class ActionCommand(Contract):
    actor: Actor
    payload: dict[str, Any] = Field(default_factory=dict)


class RecordEvent(Contract):
    entry: AuditEntry
    state: CaseState
    notice: Notice | None = None


class FindCandidates(Contract):
    seeking: Seeking
    criteria: MatchingCriteria
