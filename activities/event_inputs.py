"""What recording an event reads and resolves before it writes (`activities.records`): whether a try before this
one stored it, the case as the read model has it and the texts its references stand for (one round trip), and from
them the event's payload and the case after it with their words as typed."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import bindparam, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.activities import RecordCaseEvent
from domain import events
from domain.model import Candidate, CaseState
from domain.texts import is_ref, resolve_payload, resolve_request, resolve_state
from infra.tables import audit_events, cases
from infra.texts import kept_texts_of

_BEFORE = select(
    exists().where(audit_events.c.case_id == bindparam("case_id"), audit_events.c.seq == bindparam("seq")),
    select(cases.c.snapshot).where(cases.c.id == bindparam("case_id")).scalar_subquery(),
    kept_texts_of(bindparam("case_id"), bindparam("refs", expanding=True)),
)
"""Whether a try before this one stored the event, the case as the read model has it, and the texts its
references stand for — one round trip. Parameters: case_id, seq, refs (a list)."""


def refs_in(payload: dict[str, Any]) -> set[str]:
    """The references (`domain.texts.is_ref`) anywhere in an event's payload."""
    found: set[str] = set()
    for value in payload.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict):
                found |= refs_in(item)
            elif is_ref(item):
                found.add(item)
    return found


def _with_candidate_details(after: CaseState, before: CaseState) -> CaseState:
    """Candidates the workflow keeps by id and score get their names, factors and reasons from the read model."""
    known = {c.sme_id: c for c in before.candidates}
    if not any(not c.name and c.sme_id in known for c in after.candidates):
        return after
    return after.model_copy(update={"candidates": [known.get(c.sme_id, c) if not c.name else c
                                                   for c in after.candidates]})


async def read_before(conn: AsyncConnection, case_id: str, seq: int, refs: set[str]) -> tuple[bool, Any, Any]:
    """Whether an event is stored at (case, seq), the case's snapshot, the texts `refs` stand for: one round trip."""
    found = await conn.execute(_BEFORE, {"case_id": case_id, "seq": seq, "refs": sorted(refs)})
    tried, previous, kept = found.one()
    return bool(tried), previous, kept


def resolved(command: RecordCaseEvent, kept: dict[str, str] | None
             ) -> tuple[dict[str, str], dict[str, Any], list[Candidate] | None]:
    """The kept texts, the event's payload with its words as typed, and (for `run_matching`) the full candidates."""
    texts: dict[str, str] = kept or {}
    header = command.header
    payload = (resolve_request(command.payload, texts) if header.type == events.FILED
               else resolve_payload(header.type, command.payload, texts))
    ranked = None
    if command.candidates_ref:
        ranked = [Candidate.model_validate(c) for c in json.loads(texts[command.candidates_ref])]
        payload["candidates"] = [c.model_dump(mode="json") for c in ranked]
    return texts, payload, ranked


def after_event(command: RecordCaseEvent, texts: dict[str, str], ranked: list[Candidate] | None,
                known: CaseState | None) -> CaseState:
    """The case after the event, its references resolved and its candidates in full (from `ranked`, else from
    the case `known` before)."""
    after = resolve_state(command.state, texts)
    if ranked is not None:
        return after.model_copy(update={"candidates": ranked})
    return _with_candidate_details(after, known) if known is not None else after
