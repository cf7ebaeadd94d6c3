"""A case as it stood at any moment, rebuilt from its audit events alone.

The audit trail is the record an auditor trusts (its hash chain proves it whole), so "what did the case
look like on 3 March" is answered from it, not from the workflow: each event is applied again with the
same pure transitions the workflow used, at the time the event records.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from domain import events
from domain.audit import REDACTION_EVENT, AuditEntry, redacted_personal
from domain.filing import Contact, FilingRequest
from domain.model import Action, Actor, Candidate, CaseState, Stage
from domain.payloads import parse_payload
from domain.service_levels import fire, next_moment
from domain.transitions import apply, new_case
from domain.voiding import voided_seqs


class RewindError(ValueError):
    """The events cannot be replayed (out of order, or an event the rules cannot produce)."""


def _replay(state: CaseState | None, entry: AuditEntry, levels: dict[Stage, int]) -> CaseState:
    actor = Actor.model_validate(entry.actor)
    if entry.type == events.FILED:
        return new_case(entry.case_id, FilingRequest.model_validate(entry.full_payload()), actor, entry.at, levels)
    if state is None:
        raise RewindError(f"event {entry.seq} ({entry.type}) comes before the case was filed")
    if entry.type == REDACTION_EVENT:
        contact = redacted_personal(entry.payload)["contact"]
        request = state.request.model_copy(update={"contact": Contact.model_validate(contact)})
        return state.model_copy(update={"request": request, "updated_at": entry.at})
    if entry.type in (events.MAIL_UNDELIVERABLE, events.CONSENT_WITHDRAWN, events.VOIDED):  # facts about an e-mail,
        # the registry or events no workflow took (`state` is then the case before those): the case does not change
        return state.model_copy(update={"updated_at": entry.at})
    if entry.type in Action.__members__.values():
        action = Action(entry.type)
        recorded = entry.full_payload()
        raw = {key: value for key, value in recorded.items() if key != "candidates"}
        found = recorded.get("candidates")
        candidates = [Candidate.model_validate(c) for c in found] if found is not None else None
        return apply(state, actor, action, parse_payload(action, raw), entry.at, candidates)
    moment = next_moment(state.clock)
    if moment is None:
        raise RewindError(f"event {entry.seq} ({entry.type}) has no service-level moment to come from")
    after, event_type, _ = fire(state, moment, entry.at)
    if event_type != entry.type:
        raise RewindError(f"event {entry.seq} is {entry.type!r} but the case's clock says {event_type!r}")
    return after


def rewind(entries: Iterable[AuditEntry], levels: dict[Stage, int], as_of: datetime) -> CaseState | None:
    """The case after every event recorded at or before `as_of` (None: not filed yet).

    `levels` are the service levels the case was filed with (they never change in a case's life). An
    `events_voided` event puts the case back as it stood before the events it voids (`domain.voiding`).
    """
    state: CaseState | None = None
    states: list[CaseState | None] = [None]  # the case after each seq (index), for a voiding to go back to
    for entry in entries:
        if entry.at > as_of:
            break
        if state is not None and entry.seq != state.seq + 1:
            raise RewindError(f"event {entry.seq} follows event {state.seq}")
        base = _voided_back_to(states, entry) if entry.type == events.VOIDED else state
        state = _replay(base, entry, levels).model_copy(update={"seq": entry.seq, "last_hash": entry.hash})
        states.append(state)
    return state


def _voided_back_to(states: list[CaseState | None], entry: AuditEntry) -> CaseState:
    """The case as it stood before the first event `entry` (an `events_voided`) voids."""
    first = min(voided_seqs([entry]), default=entry.seq)
    back = states[first - 1] if 0 < first <= len(states) else None
    if back is None:
        raise RewindError(f"event {entry.seq} voids events from {first}, before the case was filed")
    return back
