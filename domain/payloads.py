"""The payload of each action (docs/DESIGN.md §3), validated before anything is decided or recorded."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from domain.base_models import Input
from domain.door import checking
from domain.fields import (
    Amount,
    Code,
    EmailAddress,
    Employees,
    JsicDivision,
    Limit,
    Name,
    OptionalText,
    PrefectureName,
    SmeKey,
    Tag,
    Text,
    at_least,
)
from domain.filing import Contact
from domain.model import Action, Office

SmeId = Annotated[SmeKey, Field(description="An SME of the case's candidates: its corporate number.")]


class Payload(Input):
    """The payload of an action."""


class RequestInfo(Payload):
    questions: list[Text] = Field(min_length=1, max_length=20)


class ProvideInfo(Payload):
    answer: Text


class Reason(Payload):
    """Actions that close or decline something and must say why."""

    reason: Text


class Relay(Payload):
    offices: list[Office] = Field(min_length=1, max_length=3)
    note: OptionalText = ""

    @field_validator("offices")
    @classmethod
    def distinct(cls, offices: list[Office]) -> list[Office]:
        if len(set(offices)) != len(offices):
            raise ValueError("each office may be named once")
        return offices


class NoteOnly(Payload):
    note: OptionalText = ""


class NoInput(Payload):
    """Actions that take nothing but the caller (claiming and releasing a case)."""


class MatchingCriteria(Payload):
    """The officer's criteria: each one narrows the SMEs considered, none ever adds one."""

    industries: list[JsicDivision] | None = Field(
        None, max_length=20, description="Only SMEs in one of these JSIC divisions."
    )
    prefectures: list[PrefectureName] | None = Field(
        None, max_length=47, description="Only SMEs in one of these prefectures."
    )
    min_employees: Employees | None = None
    max_employees: Employees | None = None
    certifications: list[Tag] | None = Field(
        None, max_length=10, description="Only SMEs holding all of these certifications."
    )
    overseas_interest: bool = Field(False, description="Only SMEs that have said they want to go abroad.")
    limit: Limit = 20

    @model_validator(mode="after")
    def ordered(self) -> MatchingCriteria:
        low, high = self.min_employees, self.max_employees
        if checking() and low is not None and high is not None and low > high:
            raise ValueError(f"min_employees ({low}) may not exceed max_employees ({high})")
        return self


class SmeIds(Payload):
    sme_ids: list[SmeId] = Field(min_length=1, max_length=100)


class RecordResponse(Payload):
    sme_id: SmeId
    interested: bool
    note: OptionalText = ""


class ProposeInvestment(Payload):
    route: Literal["fund_lp", "co_investment"]
    amount_jpy: Annotated[Amount, at_least(1)]  # what was asked before the door's rules (stored ones keep it)
    rationale: Text


class ReturnProposal(Payload):
    comments: Text


class AddNote(Payload):
    text: Text


class UpdateContact(Payload):
    """The applicant's contact person, corrected (e.g. an address the mail server refuses): the case's mail
    not yet delivered goes to the new address. Recorded as `{"contact": {...}}`, personal data kept apart
    (`domain.audit.PERSONAL_KEYS`), so it is erased with the filing's at the end of retention."""

    name: Name
    email: EmailAddress
    language: Literal["en", "ja"] = "en"

    @model_validator(mode="before")
    @classmethod
    def _as_recorded(cls, data: Any) -> Any:
        """The audit event's shape (`{"contact": {...}}`) reads back as the payload it recorded."""
        if isinstance(data, dict) and set(data) == {"contact"} and isinstance(data["contact"], dict):
            return data["contact"]
        return data

    @property
    def contact(self) -> Contact:
        return Contact(name=self.name, email=self.email, language=self.language)

    def recorded(self) -> dict[str, Any]:
        return {"contact": self.contact.model_dump(mode="json")}


class Reassign(Payload):
    """Who works the case from now on: a name, and — when the person is a user (a bulk reassignment, or a user id
    given) — their user id and organisation, so the case is in their "My work" (issue 21)."""

    assignee: Name
    assignee_id: Code | None = Field(None, description="The assignee's user id (`GET /api/users`); the name and "
                                     "organisation are then the user's")
    assignee_org: Code | None = Field(None, description="Set from the user named by `assignee_id`")

    def recorded(self) -> dict[str, Any]:
        """The event's payload: what was given (a reassignment by name alone is recorded as it always was)."""
        return self.model_dump(mode="json", exclude_none=True)


ACTION_PAYLOADS: dict[Action, type[Payload]] = {
    Action.REQUEST_INFO: RequestInfo,
    Action.PROVIDE_INFO: ProvideInfo,
    Action.REJECT: Reason,
    Action.RELAY: Relay,
    Action.ACCEPT_CASE: NoteOnly,
    Action.DECLINE_CASE: Reason,
    Action.RUN_MATCHING: MatchingCriteria,
    Action.SHORTLIST: SmeIds,
    Action.RECORD_RESPONSE: RecordResponse,
    Action.SELECT_PARTNER: SmeIds,
    Action.CLOSE_NO_MATCH: Reason,
    Action.PROPOSE_INVESTMENT: ProposeInvestment,
    Action.CONCLUDE_WITHOUT_FUND: NoteOnly,
    Action.APPROVE_INVESTMENT: NoteOnly,
    Action.DECLINE_INVESTMENT: Reason,
    Action.RETURN_PROPOSAL: ReturnProposal,
    Action.WITHDRAW: Reason,
    Action.ADD_NOTE: AddNote,
    Action.REASSIGN: Reassign,
    Action.PAUSE: Reason,
    Action.RESUME: NoteOnly,
    Action.UPDATE_CONTACT: UpdateContact,
    Action.CLAIM: NoInput,
    Action.RELEASE: NoInput,
}


def parse_payload(action: Action, raw: object) -> Payload:
    """Validate a raw payload for an action; raises pydantic.ValidationError when it is wrong."""
    return ACTION_PAYLOADS[action].model_validate(raw if raw is not None else {})
