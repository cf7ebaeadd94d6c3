"""The vocabulary of a case: stages, actions, outcomes, roles, offices, and the case itself (what was filed in it is
`domain.filing`'s)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from domain.base_models import Frozen
from domain.filing import FilingRequest


class Stage(StrEnum):
    SCREENING = "screening"
    AWAITING_APPLICANT_INFO = "awaiting_applicant_info"
    OFFICE_REVIEW = "office_review"
    MATCHING = "matching"
    FUND_CONSIDERATION = "fund_consideration"
    INVESTMENT_DECISION = "investment_decision"
    CLOSED = "closed"


class Action(StrEnum):
    REQUEST_INFO = "request_info"
    PROVIDE_INFO = "provide_info"
    REJECT = "reject"
    RELAY = "relay"
    ACCEPT_CASE = "accept_case"
    DECLINE_CASE = "decline_case"
    RUN_MATCHING = "run_matching"
    SHORTLIST = "shortlist"
    RECORD_RESPONSE = "record_response"
    SELECT_PARTNER = "select_partner"
    CLOSE_NO_MATCH = "close_no_match"
    PROPOSE_INVESTMENT = "propose_investment"
    CONCLUDE_WITHOUT_FUND = "conclude_without_fund"
    APPROVE_INVESTMENT = "approve_investment"
    DECLINE_INVESTMENT = "decline_investment"
    RETURN_PROPOSAL = "return_proposal"
    WITHDRAW = "withdraw"
    ADD_NOTE = "add_note"
    REASSIGN = "reassign"
    PAUSE = "pause"
    RESUME = "resume"
    UPDATE_CONTACT = "update_contact"
    CLAIM = "claim"
    RELEASE = "release"


class Outcome(StrEnum):
    ALLIANCE_FORMED_WITH_FUND = "alliance_formed_with_fund"
    ALLIANCE_FORMED = "alliance_formed"
    REJECTED_AT_SCREENING = "rejected_at_screening"
    DECLINED_BY_OFFICES = "declined_by_offices"
    NO_MATCH = "no_match"
    INVESTMENT_DECLINED = "investment_declined"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class Role(StrEnum):
    APPLICANT = "applicant"
    COORDINATOR = "coordinator"
    OFFICE_OFFICER = "office_officer"
    OFFICE_MANAGER = "office_manager"
    FUND_COMMITTEE = "fund_committee"
    AUDITOR = "auditor"
    ADMIN = "admin"
    SYSTEM = "system"


def a_role(role: str) -> str:
    """The role with its indefinite article, as a sentence says it: `an applicant`, `a coordinator`."""
    return f"{'an' if role[:1] in 'aeiou' else 'a'} {role}"


class Office(StrEnum):
    SME_SUPPORT_JAPAN = "sme_support_japan"
    SHOKO_CHUKIN_BANK = "shoko_chukin_bank"
    SBIC = "sbic"


JETRO = "jetro"
FUND = "sme_growth_fund"
OVERSIGHT = "oversight"
OPERATOR = "operator"

# The organisation each staff role belongs to; offices are the three office codes.
ROLE_ORGS: dict[Role, frozenset[str]] = {
    Role.COORDINATOR: frozenset({JETRO}),
    Role.OFFICE_OFFICER: frozenset(Office),
    Role.OFFICE_MANAGER: frozenset(Office),
    Role.FUND_COMMITTEE: frozenset({FUND}),
    Role.AUDITOR: frozenset({OVERSIGHT}),
    Role.ADMIN: frozenset({OPERATOR}),
}


class Actor(Frozen):
    """The person (or `system`) taking an action; set by the API from the token, never from the body.

    `on_behalf_of` is the person this one stands in for under a delegation (issue 21): the audit event names both;
    it is left out of the serialized form when absent, so events without a delegation look as they always did.
    `conflicts` are the companies a fund committee member declared a conflict of interest with (`domain.conflicts`),
    loaded with the person and never serialized (never in an audit event, a stored record or a Temporal payload).
    """

    id: str
    name: str
    role: Role
    org: str
    on_behalf_of: Actor | None = None
    conflicts: frozenset[str] = Field(default_factory=frozenset, exclude=True)

    @model_serializer(mode="wrap")
    def _without_absent_principal(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        if dumped.get("on_behalf_of") is None:
            dumped.pop("on_behalf_of", None)
        return dumped

    @property
    def principal(self) -> Actor:
        """Whose rights and cases this is about: the delegator when standing in, else the person themself."""
        return self.on_behalf_of or self

    @property
    def people(self) -> frozenset[str]:
        """The ids of everyone this actor is (the person, and whom they stand in for)."""
        return frozenset({self.id, *((self.on_behalf_of.id,) if self.on_behalf_of else ())})


SYSTEM_ACTOR = Actor(id="system", name="system", role=Role.SYSTEM, org="system")


class Review(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CLOSED = "closed"


class OfficeReview(Frozen):
    office: Office
    review: Review = Review.PENDING
    note: str = ""


class Candidate(Frozen):
    sme_id: str
    name: str
    score: float
    factors: dict[str, float]
    reason: str


class SmeResponse(Frozen):
    sme_id: str
    interested: bool
    note: str = ""


class Proposal(Frozen):
    route: Literal["fund_lp", "co_investment"]
    amount_jpy: int
    rationale: str
    proposed_by: Actor


class Note(Frozen):
    text: str
    by: Actor
    at: datetime


class Milestone(StrEnum):
    REMINDER = "reminder"
    ESCALATION_1 = "escalation_1"
    ESCALATION_2 = "escalation_2"
    EXPIRY = "expiry"


class Moment(Frozen):
    milestone: Milestone
    at: datetime


class Clock(Frozen):
    stage: Stage
    limit_days: int
    started_at: datetime
    moments: list[Moment]
    fired: list[Milestone] = Field(default_factory=list)
    paused_at: datetime | None = None

    @property
    def due_at(self) -> datetime:
        return next(m.at for m in self.moments if m.milestone in (Milestone.ESCALATION_1, Milestone.EXPIRY))


NOTES_KEPT = 20
"""A case keeps its latest notes; all of them stay in its audit trail, however many there are."""


class CaseState(Frozen):
    """Everything the workflow knows about one case; also the read model's snapshot."""

    id: str
    reference: str
    stage: Stage
    outcome: Outcome | None = None
    request: FilingRequest
    applicant_org: str
    filed_by: Actor
    offices: list[OfficeReview] = Field(default_factory=list)
    lead_office: Office | None = None
    assignee: str | None = Field(None, description="Who works the case now, by name (accepting, claiming, reassigning)")
    assignee_id: str | None = Field(None, description="The assignee's user id, when known (claiming, accepting)")
    assignee_org: str | None = Field(None, description="The assignee's organisation, when known")
    questions: list[str] = Field(default_factory=list)
    candidates: list[Candidate] = Field(default_factory=list)
    shortlist: list[str] = Field(default_factory=list)
    responses: list[SmeResponse] = Field(default_factory=list)
    partners: list[str] = Field(default_factory=list)
    proposal: Proposal | None = None
    notes: list[Note] = Field(default_factory=list, description=f"The latest {NOTES_KEPT} internal notes.")
    notes_total: int = Field(0, description="Internal notes ever added (every one is in the history).")
    paused: bool = False
    service_levels: dict[Stage, int] = Field(default_factory=dict)
    clock: Clock | None = None
    due_at: datetime | None = None
    overdue: bool = False
    escalation_level: int = 0
    created_at: datetime
    updated_at: datetime
    seq: int = 0
    last_hash: str

    def review_of(self, office: str) -> OfficeReview | None:
        return next((r for r in self.offices if r.office == office), None)

    def interested_smes(self) -> set[str]:
        return {r.sme_id for r in self.responses if r.interested}
