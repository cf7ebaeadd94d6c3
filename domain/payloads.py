"""The payload of each action (DESIGN §3), validated before anything is decided or recorded."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from domain.model import Action, Input, Office

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


class MatchingCriteria(Payload):
    industries: list[str] | None = None
    prefectures: list[str] | None = None
    min_employees: int | None = Field(None, ge=0)
    max_employees: int | None = Field(None, ge=0)
    limit: int = Field(20, ge=1, le=100)


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
}


def parse_payload(action: Action, raw: object) -> Payload:
    """Validate a raw payload for an action; raises pydantic.ValidationError when it is wrong."""
    return ACTION_PAYLOADS[action].model_validate(raw if raw is not None else {})
