"""What a caller sees of a case: one function decides, so every endpoint shows the same thing.

Applicants never see internal notes, match scores or factors, the fund's proposal rationale, or the
name of a candidate SME that has not said it is interested.
"""

from __future__ import annotations

from typing import Any

from domain import events
from domain.audit import AuditEntry
from domain.model import Actor, CaseState, Role
from domain.rules import allowed_actions


def case_view(state: CaseState, viewer: Actor) -> dict[str, Any]:
    data = state.model_dump(mode="json", exclude={"last_hash", "seq", "notes", "notes_total", "filed_by"})
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
