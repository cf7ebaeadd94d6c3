"""The payload of each action (docs/DESIGN.md §3), validated before anything is decided or recorded."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import EmailStr, Field, field_validator, model_validator

from domain.geography import JSIC_DIVISIONS, PREFECTURE_BY_NAME
from domain.model import Action, Contact, Input, Office

Text = Annotated[str, Field(min_length=1, max_length=5000)]
OptionalText = Annotated[str, Field(max_length=5000)]
SmeId = Annotated[str, Field(min_length=1, max_length=13)]


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

    industries: list[str] | None = Field(None, description="Only SMEs in one of these JSIC divisions.")
    prefectures: list[str] | None = Field(None, description="Only SMEs in one of these prefectures.")
    min_employees: int | None = Field(None, ge=0)
    max_employees: int | None = Field(None, ge=0)
    certifications: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        None, max_length=10, description="Only SMEs holding all of these certifications."
    )
    overseas_interest: bool = Field(False, description="Only SMEs that have said they want to go abroad.")
    limit: int = Field(20, ge=1, le=100)

    @field_validator("industries")
    @classmethod
    def jsic_divisions(cls, value: list[str] | None) -> list[str] | None:
        unknown = [item for item in value or [] if item not in JSIC_DIVISIONS]
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: not a JSIC division letter (A–T)")
        return value

    @field_validator("prefectures")
    @classmethod
    def prefectures_of_japan(cls, value: list[str] | None) -> list[str] | None:
        unknown = [item for item in value or [] if item not in PREFECTURE_BY_NAME]
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: not a prefecture (use the English name, e.g. Aichi)")
        return value


class SmeIds(Payload):
    sme_ids: list[SmeId] = Field(min_length=1, max_length=100)


class RecordResponse(Payload):
    sme_id: SmeId
    interested: bool
    note: OptionalText = ""


class ProposeInvestment(Payload):
    route: Literal["fund_lp", "co_investment"]
    amount_jpy: int = Field(gt=0)
    rationale: Text


class ReturnProposal(Payload):
    comments: Text


class AddNote(Payload):
    text: Text


class UpdateContact(Payload):
    """The applicant's contact person, corrected (e.g. an address the mail server refuses): the case's mail
    not yet delivered goes to the new address. Recorded as `{"contact": {...}}`, personal data kept apart
    (`domain.audit.PERSONAL_KEYS`), so it is erased with the filing's at the end of retention."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: EmailStr
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
    assignee: Annotated[str, Field(min_length=1, max_length=200)]


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
