"""What a caller sees of a case: one function decides, so every endpoint shows the same thing.

Applicants never see internal notes, match scores or factors, the fund's proposal rationale, or the
name of a candidate SME that has not said it is interested.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain import events
from domain.audit import AuditEntry
from domain.model import (
    NOTES_KEPT,
    Action,
    Actor,
    CaseState,
    Clock,
    Company,
    FilingRequest,
    Note,
    Office,
    OfficeReview,
    Outcome,
    Role,
    SmeResponse,
    Stage,
)
from domain.rules import allowed_actions

HIDDEN = frozenset({"last_hash", "seq", "notes", "notes_total", "filed_by"})
"""`CaseState` fields no caller is shown as they are (notes and their count are added back for staff)."""


def case_view(state: CaseState, viewer: Actor) -> dict[str, Any]:
    """The case as `viewer` may see it (its shape: `CaseView`)."""
    data = state.model_dump(mode="json", exclude=set(HIDDEN))
    data["company"] = data["request"]["company"]
    data["allowed_actions"] = [str(a) for a in allowed_actions(state, viewer)]
    data["proposal"] = (
        {**data["proposal"], "proposed_by": data["proposal"]["proposed_by"]["name"]} if data["proposal"] else None
    )
    if viewer.role == Role.APPLICANT:
        interested = state.interested_smes()
        data["candidates"] = [
            {"sme_id": c.sme_id, "name": c.name if c.sme_id in interested else None,
             "score": None, "factors": {}, "reason": None}
            for c in state.candidates
            if c.sme_id in state.shortlist
        ]
        data["responses"] = [{**r, "note": ""} for r in data["responses"] if r["interested"]]
        data["offices"] = [{"office": r["office"], "review": r["review"], "note": ""} for r in data["offices"]]
        data["assignee_id"] = None  # staff are known to an applicant by role and organisation, never by id
        if data["proposal"]:
            data["proposal"] = {**data["proposal"], "rationale": None, "proposed_by": None}
    else:
        data["notes"] = [note.model_dump(mode="json") for note in state.notes]
        data["notes_total"] = max(state.notes_total, len(state.notes))
    return data


# What an applicant may read of its own case's history: the outward-facing steps, never internal ones.
APPLICANT_EVENTS = frozenset(
    {events.FILED, "request_info", "provide_info", "reject", "relay", "accept_case", "select_partner",
     "close_no_match", "conclude_without_fund", "approve_investment", "decline_investment", "withdraw",
     events.EXPIRED}
)
APPLICANT_PAYLOADS = frozenset({events.FILED, "request_info", "provide_info", "withdraw"})


def _event(entry: AuditEntry) -> dict[str, Any]:
    """An event as stored, so that anyone can recompute its hash; personal data (hash version 2) is in
    `personal` beside the payload, until it is redacted."""
    return entry.model_dump(mode="json") | {"redacted": entry.redacted}


def history_view(entries: list[AuditEntry], viewer: Actor) -> list[dict[str, Any]]:
    """The events `viewer` may read, oldest first (each one's shape: `HistoryEvent`)."""
    events = [_event(e) for e in entries]
    if viewer.role != Role.APPLICANT:
        return events
    shown = []
    for event in events:
        if event["type"] not in APPLICANT_EVENTS:
            continue
        staff = event["actor"]["role"] != Role.APPLICANT
        shown.append(
            {**event,
             "actor": {"role": event["actor"]["role"], "org": event["actor"]["org"]} if staff else event["actor"],
             "payload": event["payload"] if event["type"] in APPLICANT_PAYLOADS else {}}
        )
    return shown


# The shapes of the views above, for the API's `response_model`s and so its OpenAPI document. The views stay
# plain dicts (what they return is what is sent, byte for byte); tests validate real answers against these
# models, which forbid unknown keys, so the two cannot drift apart.


class View(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CandidateView(View):
    """A matched SME; an applicant sees only shortlisted ones, named once they said they are interested."""

    sme_id: str
    name: str | None
    score: float | None = Field(description="None for an applicant")
    factors: dict[str, float] = Field(description="Empty for an applicant")
    reason: str | None = Field(description="None for an applicant")


class ProposalView(View):
    route: Literal["fund_lp", "co_investment"]
    amount_jpy: int
    rationale: str | None = Field(description="None for an applicant")
    proposed_by: str | None = Field(description="The proposer's name; None for an applicant")


class CaseView(View):
    """A case as the caller may see it (`case_view`), with the actions the caller may take now."""

    id: str
    reference: str
    stage: Stage
    outcome: Outcome | None
    request: FilingRequest
    applicant_org: str
    offices: list[OfficeReview] = Field(description="One review per office the case was relayed to")
    lead_office: Office | None
    assignee: str | None
    assignee_id: str | None = Field(description="The assignee's user id, when known (None for an applicant)")
    assignee_org: str | None = Field(description="The assignee's organisation, when known")
    questions: list[str]
    candidates: list[CandidateView]
    shortlist: list[str]
    responses: list[SmeResponse] = Field(description="An applicant sees only the interested ones, without notes")
    partners: list[str]
    proposal: ProposalView | None
    paused: bool
    service_levels: dict[Stage, int] = Field(description="Business days each waiting stage may take")
    clock: Clock | None
    due_at: datetime | None
    overdue: bool
    escalation_level: int
    created_at: datetime
    updated_at: datetime
    company: Company
    allowed_actions: list[Action] = Field(description="What the caller may do now, in lifecycle order")
    notes: list[Note] | None = Field(
        None, description=f"The latest {NOTES_KEPT} internal notes: staff and auditors only (absent otherwise)"
    )
    notes_total: int | None = Field(
        None, description="Internal notes ever added, all in the history: staff and auditors only (absent otherwise)"
    )
    as_of: str | None = Field(
        None, description="The time asked for, when the case is shown as it stood then (absent otherwise)"
    )


class CasePage(View):
    """A page of `GET /api/cases`."""

    items: list[CaseView]
    next_cursor: str | None = Field(description="Give it as `cursor` for the next page; None on the last")


class HistoryEvent(View):
    """An audit event as stored, so anyone can recompute its hash (`history_view`; applicants see fewer events,
    and of staff only their role and organisation)."""

    case_id: str
    seq: int
    type: str = Field(description="The action's name, or filed, reminder, escalation, expired, …")
    actor: dict[str, Any] = Field(
        description="id, name, role, org (an applicant sees role and org of staff); `on_behalf_of` (the same four) "
        "when the person stood in for someone under a delegation"
    )
    at: datetime
    stage_before: str | None
    stage_after: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str
    hash_version: int
    personal: dict[str, Any] | None = Field(description="Personal data kept beside the payload (hash version 2)")
    personal_salt: str | None
    personal_digest: str | None
    redacted: bool = Field(description="Whether the personal data was erased (the chain still verifies)")


class CaseHistory(View):
    """`GET /api/cases/{id}/history`."""

    events: list[HistoryEvent]
