"""What each accepted action does to a case. Pure: the same inputs always give the same case."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from domain.audit import GENESIS_HASH
from domain.filing import FilingRequest
from domain.model import (
    NOTES_KEPT,
    Action,
    Actor,
    Candidate,
    CaseState,
    Note,
    Office,
    OfficeReview,
    Outcome,
    Proposal,
    Review,
    Role,
    SmeResponse,
    Stage,
    a_role,
)
from domain.payloads import (
    AddNote,
    NoteOnly,
    Payload,
    ProposeInvestment,
    Reassign,
    RecordResponse,
    Relay,
    UpdateContact,
)
from domain.people import APPLICANT_ORG, RESERVED_ORGS
from domain.reference import case_reference
from domain.rules import FILERS
from domain.service_levels import DEFAULT_SERVICE_LEVELS, pause_clock, restart_clock, resume_clock, with_clock


def applicant_org_of(actor: Actor, request: FilingRequest) -> str:
    """Whose case this is: the applicant's own company, or the one a coordinator files for.

    Who may file at all is `domain.rules.FILERS`, the set the API and the console gate filing with (403); this
    check only stands behind them, for the workflow.
    """
    if actor.role not in FILERS:
        raise ValueError(f"{a_role(actor.role)} may not file a case")
    if actor.role == Role.APPLICANT:
        return actor.org
    if not request.on_behalf_of:
        raise ValueError("a coordinator filing for a company must name it in on_behalf_of")
    if not APPLICANT_ORG.match(request.on_behalf_of) or request.on_behalf_of in RESERVED_ORGS:
        raise ValueError("on_behalf_of is the company's code: lower-case letters, digits, - or _")
    return request.on_behalf_of


def new_case(
    case_id: str, request: FilingRequest, actor: Actor, at: datetime, levels: dict[Stage, int] | None = None
) -> CaseState:
    """The case as it stands the moment it is filed (before its `filed` event is recorded)."""
    applicant_org = applicant_org_of(actor, request)
    filed = CaseState(
        id=case_id,
        reference=case_reference(case_id, at),
        stage=Stage.SCREENING,
        request=request,
        applicant_org=applicant_org,
        filed_by=actor,
        created_at=at,
        updated_at=at,
        last_hash=GENESIS_HASH,
        service_levels=DEFAULT_SERVICE_LEVELS if levels is None else levels,
    )
    return restart_clock(filed, at)


Change = dict[str, Any]
Effect = Callable[[CaseState, Actor, Any, datetime], Change]


def _close(outcome: Outcome) -> Effect:
    return lambda state, actor, payload, at: {"stage": Stage.CLOSED, "outcome": outcome, "paused": False}


def _relay(state: CaseState, actor: Actor, payload: Relay, at: datetime) -> Change:
    return {"stage": Stage.OFFICE_REVIEW, "offices": [OfficeReview(office=o) for o in payload.offices]}


def _review(state: CaseState, office: str, review: Review, note: str, others: Review | None) -> Change:
    def updated(r: OfficeReview) -> OfficeReview:
        if r.office == office:
            return r.model_copy(update={"review": review, "note": note})
        if others is not None and r.review == Review.PENDING:
            return r.model_copy(update={"review": others})
        return r

    return {"offices": [updated(r) for r in state.offices]}


def _assigned_to(actor: Actor | None) -> Change:
    """The assignee fields for a person (claiming, accepting), or cleared (releasing)."""
    if actor is None:
        return {"assignee": None, "assignee_id": None, "assignee_org": None}
    person = actor.principal  # a stand-in claims or accepts for the person they stand in for
    return {"assignee": person.name, "assignee_id": person.id, "assignee_org": person.org}


def _accept(state: CaseState, actor: Actor, payload: NoteOnly, at: datetime) -> Change:
    change = _review(state, actor.principal.org, Review.ACCEPTED, payload.note, others=Review.CLOSED)
    return {**change, "stage": Stage.MATCHING, "lead_office": Office(actor.principal.org), **_assigned_to(actor)}


def _decline(state: CaseState, actor: Actor, payload: Any, at: datetime) -> Change:
    change = _review(state, actor.principal.org, Review.DECLINED, payload.reason, others=None)
    if all(r.review == Review.DECLINED for r in change["offices"]):
        change |= {"stage": Stage.CLOSED, "outcome": Outcome.DECLINED_BY_OFFICES, "paused": False}
    if state.assignee_org == actor.principal.org:  # the office let the case go: so does whoever of it had claimed it
        change |= _assigned_to(None)
    return change


def _record_response(state: CaseState, actor: Actor, payload: RecordResponse, at: datetime) -> Change:
    others = [r for r in state.responses if r.sme_id != payload.sme_id]
    answer = SmeResponse(sme_id=payload.sme_id, interested=payload.interested, note=payload.note)
    return {"responses": [*others, answer]}


def _propose(state: CaseState, actor: Actor, payload: ProposeInvestment, at: datetime) -> Change:
    proposal = Proposal(
        route=payload.route, amount_jpy=payload.amount_jpy, rationale=payload.rationale, proposed_by=actor
    )
    return {"stage": Stage.INVESTMENT_DECISION, "proposal": proposal}


def _note(state: CaseState, actor: Actor, payload: AddNote, at: datetime) -> Change:
    latest = [*state.notes, Note(text=payload.text, by=actor, at=at)][-NOTES_KEPT:]
    return {"notes": latest, "notes_total": max(state.notes_total, len(state.notes)) + 1}


def _update_contact(state: CaseState, actor: Actor, payload: UpdateContact, at: datetime) -> Change:
    return {"request": state.request.model_copy(update={"contact": payload.contact})}


EFFECTS: dict[Action, Effect] = {
    Action.REQUEST_INFO: lambda s, a, p, at: {"stage": Stage.AWAITING_APPLICANT_INFO, "questions": p.questions},
    Action.PROVIDE_INFO: lambda s, a, p, at: {"stage": Stage.SCREENING, "questions": []},
    Action.REJECT: _close(Outcome.REJECTED_AT_SCREENING),
    Action.RELAY: _relay,
    Action.ACCEPT_CASE: _accept,
    Action.DECLINE_CASE: _decline,
    Action.RUN_MATCHING: lambda s, a, p, at: {},  # candidates arrive with the matching result
    Action.SHORTLIST: lambda s, a, p, at: {"shortlist": list(dict.fromkeys([*s.shortlist, *p.sme_ids]))},
    Action.RECORD_RESPONSE: _record_response,
    Action.SELECT_PARTNER: lambda s, a, p, at: {"stage": Stage.FUND_CONSIDERATION, "partners": p.sme_ids},
    Action.CLOSE_NO_MATCH: _close(Outcome.NO_MATCH),
    Action.PROPOSE_INVESTMENT: _propose,
    Action.CONCLUDE_WITHOUT_FUND: _close(Outcome.ALLIANCE_FORMED),
    Action.APPROVE_INVESTMENT: _close(Outcome.ALLIANCE_FORMED_WITH_FUND),
    Action.DECLINE_INVESTMENT: _close(Outcome.INVESTMENT_DECLINED),
    Action.RETURN_PROPOSAL: lambda s, a, p, at: {"stage": Stage.FUND_CONSIDERATION},
    Action.WITHDRAW: _close(Outcome.WITHDRAWN),
    Action.ADD_NOTE: _note,
    Action.REASSIGN: lambda s, a, p, at: {"assignee": p.assignee, "assignee_id": p.assignee_id,
                                          "assignee_org": p.assignee_org},
    Action.PAUSE: lambda s, a, p, at: {"paused": True},
    Action.RESUME: lambda s, a, p, at: {"paused": False},
    Action.UPDATE_CONTACT: _update_contact,
    Action.CLAIM: lambda s, a, p, at: _assigned_to(a),
    Action.RELEASE: lambda s, a, p, at: _assigned_to(None),
}


def apply(
    state: CaseState,
    actor: Actor,
    action: Action,
    payload: Payload,
    at: datetime,
    candidates: list[Candidate] | None = None,
) -> CaseState:
    """The case after `action`; the caller has already had it approved by `rules.check`."""
    change = EFFECTS[action](state, actor, payload, at)
    if candidates is not None:
        change["candidates"] = candidates
    after = state.model_copy(update={**change, "updated_at": at})
    if after.stage != state.stage:
        return restart_clock(after, at)
    if action == Action.PAUSE:
        return with_clock(after, pause_clock(after.clock, at))
    if action == Action.RESUME:
        return with_clock(after, resume_clock(after.clock, at))
    return after


def event_payload(action: Action, payload: Payload, candidates: list[Candidate] | None) -> dict[str, Any]:
    """What the audit event records of an action: its payload, and the candidates matching produced."""
    recorded = payload.recorded() if isinstance(payload, UpdateContact | Reassign) else payload.model_dump(mode="json")
    if candidates is not None:
        recorded["candidates"] = [c.model_dump(mode="json") for c in candidates]
    return recorded

