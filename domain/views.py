"""What a caller sees of a case and its history: `domain.disclosure`'s table, applied in one place, so every
endpoint and console page shows the same thing.

Applicants never see internal notes, match scores or factors, the fund's proposal rationale, any staff name,
or any identifier of a candidate SME that has not said it is interested (it is the case's `Candidate A`…).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain import events
from domain.audit import AuditEntry
from domain.disclosure import NOT_VISIBLE, ROWS, Shown, Viewer, candidate_alias, hidden_fields, shown, viewer_of
from domain.filing import Company, FilingRequest
from domain.model import (
    NOTES_KEPT,
    Action,
    Actor,
    CaseState,
    Clock,
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
"""`CaseState` fields no caller is shown as they are (notes and their count are added back, then blanked for
whom `domain.disclosure` says)."""


def case_view(state: CaseState, viewer: Actor, consent_withdrawn: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The case as `viewer` may see it (its shape: `CaseView`), as `domain.disclosure` says. `consent_withdrawn`:
    the SMEs the registry holds without consent now (shown to staff against the case's candidates)."""
    data = state.model_dump(mode="json", exclude=set(HIDDEN))
    data["consent_withdrawn"] = [c.sme_id for c in state.candidates if c.sme_id in consent_withdrawn]
    data["company"] = data["request"]["company"]
    data["allowed_actions"] = [str(a) for a in allowed_actions(state, viewer)]
    data["proposal"] = (
        {**data["proposal"], "proposed_by": data["proposal"]["proposed_by"]["name"]} if data["proposal"] else None
    )
    data["notes"] = [note.model_dump(mode="json") for note in state.notes]
    data["notes_total"] = max(state.notes_total, len(state.notes))
    kind = viewer_of(state, viewer)
    for field in hidden_fields(kind):
        if field in CASE_MASKS:
            CASE_MASKS[field](state, data)
    return data


CaseMask = Callable[[CaseState, dict[str, Any]], None]
"""Masks or blanks one field of a case's view in place (the view is a fresh dict of the caller's own)."""


def _labels(state: CaseState) -> dict[str, str]:
    """How an applicant knows each shortlisted SME: its corporate number once interested, else its alias."""
    interested = state.interested_smes()
    return {sme: sme if sme in interested else candidate_alias(i) for i, sme in enumerate(state.shortlist)}


def _mask_candidates(state: CaseState, data: dict[str, Any]) -> None:
    """Only the shortlisted, in shortlist order."""
    by_id = {c["sme_id"]: c for c in data["candidates"]}
    data["candidates"] = [by_id[sme] for sme in state.shortlist if sme in by_id]


def _mask_candidate_ids(state: CaseState, data: dict[str, Any]) -> None:
    labels = _labels(state)
    data["candidates"] = [{**c, "sme_id": labels.get(c["sme_id"], c["sme_id"])} for c in data["candidates"]]


def _mask_candidate_names(state: CaseState, data: dict[str, Any]) -> None:
    interested = state.interested_smes()
    data["candidates"] = [{**c, "name": c["name"] if c["sme_id"] in interested else None} for c in data["candidates"]]


def _blank_scores(state: CaseState, data: dict[str, Any]) -> None:
    data["candidates"] = [{**c, "score": None, "factors": {}, "reason": None} for c in data["candidates"]]


def _mask_shortlist(state: CaseState, data: dict[str, Any]) -> None:
    data["shortlist"] = list(_labels(state).values())


def _blank_notes(state: CaseState, data: dict[str, Any]) -> None:
    del data["notes"], data["notes_total"]


def _blank_consent(state: CaseState, data: dict[str, Any]) -> None:
    del data["consent_withdrawn"]


def _blank_proposal(key: str) -> CaseMask:
    def blank(state: CaseState, data: dict[str, Any]) -> None:
        if data["proposal"]:
            data["proposal"] = {**data["proposal"], key: None}

    return blank


CASE_MASKS: dict[str, CaseMask] = {
    "offices.note": lambda state, data: data.update(offices=[{**o, "note": ""} for o in data["offices"]]),
    "assignee": lambda state, data: data.update(assignee=None, assignee_id=None),
    "candidates": _mask_candidates,
    "candidates.sme_id": _mask_candidate_ids,
    "candidates.name": _mask_candidate_names,
    "candidates.score": _blank_scores,
    "shortlist": _mask_shortlist,
    "responses": lambda state, data: data.update(responses=[r for r in data["responses"] if r["interested"]]),
    "responses.note": lambda state, data: data.update(responses=[{**r, "note": ""} for r in data["responses"]]),
    "proposal.rationale": _blank_proposal("rationale"),
    "proposal.proposed_by": _blank_proposal("proposed_by"),
    "notes": _blank_notes,
    "consent_withdrawn": _blank_consent,
}
"""How each field of the case is masked or blanked; the table's order is the order they apply in."""
HANDLED_ELSEWHERE = frozenset({"history.events", "history.actor", "history.payload", "mail.names"})
"""Rows `history_view` applies, and the mail's (`domain.notifications` names no person and no SME)."""
_unmasked = {row.field for row in ROWS.values() for viewer, how in row.cells.items()
             if how != Shown.SHOWN and viewer not in NOT_VISIBLE} - set(CASE_MASKS) - HANDLED_ELSEWHERE
if _unmasked:
    raise RuntimeError(f"domain.disclosure hides fields no mask handles: {sorted(_unmasked)}")


# What an applicant may read of its own case's history: the outward-facing steps, never internal ones.
APPLICANT_EVENTS = frozenset(
    {events.FILED, "request_info", "provide_info", "reject", "relay", "accept_case", "select_partner",
     "close_no_match", "conclude_without_fund", "approve_investment", "decline_investment", "withdraw",
     "update_contact", events.EXPIRED, events.VOIDED}
)
APPLICANT_PAYLOADS = frozenset(
    {events.FILED, "request_info", "provide_info", "withdraw", "update_contact", events.VOIDED}
)


def _event(entry: AuditEntry) -> dict[str, Any]:
    """An event as stored, so that anyone can recompute its hash; personal data (hash version 2) is in
    `personal` beside the payload, until it is redacted."""
    return entry.model_dump(mode="json") | {"redacted": entry.redacted}


def staff_by_role(actor: dict[str, Any]) -> dict[str, Any]:
    """A staff member as an applicant knows them: role and organisation, never a name (the applicant's own
    people stay as they are)."""
    return actor if actor["role"] == Role.APPLICANT else {"role": actor["role"], "org": actor["org"]}


def history_view(entries: list[AuditEntry], viewer: Actor, state: CaseState | None = None) -> list[dict[str, Any]]:
    """The events `viewer` may read, oldest first (each one's shape: `HistoryEvent`), as `domain.disclosure`
    says for a viewer of `viewer`'s role (the history's own case, when given, tells offices apart)."""
    kind = viewer_of(state, viewer) if state is not None else HISTORY_VIEWERS.get(viewer.role, Viewer.AUDITOR)
    shown_events = [_event(e) for e in entries]
    if shown("history.events", kind) == Shown.MASKED:
        shown_events = [e for e in shown_events if e["type"] in APPLICANT_EVENTS]
    if shown("history.actor", kind) == Shown.MASKED:
        shown_events = [{**e, "actor": staff_by_role(e["actor"])} for e in shown_events]
    if shown("history.payload", kind) == Shown.MASKED:
        shown_events = [{**e, "payload": e["payload"] if e["type"] in APPLICANT_PAYLOADS else {}} for e in shown_events]
    return shown_events


HISTORY_VIEWERS = {Role.APPLICANT: Viewer.APPLICANT}
"""A history asked for without its case: every role but the applicant's sees it whole (staff and auditors)."""


# The shapes of the views above, for the API's `response_model`s and so its OpenAPI document. The views stay
# plain dicts (what they return is what is sent, byte for byte); tests validate real answers against these
# models, which forbid unknown keys, so the two cannot drift apart.


class View(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CandidateView(View):
    """A matched SME; an applicant sees only shortlisted ones, named once they said they are interested."""

    sme_id: str = Field(description="The corporate number; for an applicant, until the SME said it is interested, "
                                    "the case's alias (`Candidate A`, `Candidate B`… in shortlist order)")
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
    assignee: str | None = Field(description="A staff member's name; None for an applicant")
    assignee_id: str | None = Field(description="The assignee's user id, when known (None for an applicant)")
    assignee_org: str | None = Field(description="The assignee's organisation, when known")
    questions: list[str]
    candidates: list[CandidateView]
    shortlist: list[str] = Field(description="Corporate numbers; an applicant sees the alias of an SME that has "
                                             "not said it is interested")
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
    consent_withdrawn: list[str] | None = Field(
        None, description="Candidates that have withdrawn their consent to be matched in the registry since: no "
        "further step may take them; staff and auditors only (absent otherwise)"
    )
    as_of: str | None = Field(
        None, description="The time asked for, when the case is shown as it stood then (absent otherwise)"
    )


class DamagedCase(View):
    """A case of the page whose stored record (the read model's snapshot) is no case, so it cannot be shown: what
    the row's own columns still say of it, and why (its audit trail still holds what happened)."""

    id: str
    reference: str | None
    stage: str | None
    detail: str


class CasePage(View):
    """A page of `GET /api/cases` (or `/api/work`)."""

    items: list[CaseView]
    damaged: list[DamagedCase] = Field(
        default_factory=list, description="Cases of this page whose stored record was altered and cannot be read "
        "back, in the page's order: left out of `items`, never hiding the others (an administrator repairs them)")
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
    key_id: str | None = Field(description="The signing key's id (`GET /api/audit/keys`); null before signing")
    signature: str | None = Field(description="Ed25519 signature of `hash` (128 hex characters); null before signing")
    redacted: bool = Field(description="Whether the personal data was erased (the chain still verifies)")


class CaseHistory(View):
    """`GET /api/cases/{id}/history`."""

    events: list[HistoryEvent]
