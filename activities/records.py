"""Record an accepted action: its audit event and the refreshed read model, in one transaction."""

from __future__ import annotations

import json
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DataError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.failures import classified
from activities.outbox import write_outbox
from contracts.activities import RECORD_CASE_EVENT, RECORD_EVENT, RecordCaseEvent, Recorded, RecordEvent
from contracts.errors import KEY_USED, UNSTORABLE
from domain import events
from domain.audit import AuditEntry, make_entry
from domain.model import Candidate, CaseState
from domain.notifications import Notice, notice
from domain.texts import is_ref, refs_in_state, resolve_payload, resolve_request, resolve_state
from infra.idempotency import claim_key
from infra.tables import audit_events, cases, notifications
from infra.texts import kept_texts

log = structlog.get_logger(__name__)


class CaseRecords:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @activity.defn(name=RECORD_EVENT)
    @classified(RECORD_EVENT)
    async def record_event(self, command: RecordEvent) -> int:
        """Cases recorded before their free text left the workflow (no `bounded-case-state` patch): the
        workflow sends the whole event and the whole case.

        Idempotent: the event's key is (case, seq), and the read model only ever moves forward.

        The e-mails the event causes go into the outbox in the same transaction; returns how many of the
        event's e-mails are waiting to be sent (the workflow's courier then delivers them).
        """
        upsert = _upsert(command.state)
        try:
            waiting = await self._write(command, upsert)
        except DataError as error:  # retrying cannot help: refuse the action instead of hanging the case
            raise ApplicationError(
                f"the database cannot store this event: {error.orig}", type=UNSTORABLE, non_retryable=True
            ) from error
        return int(waiting or 0)

    async def _write(self, command: RecordEvent, upsert: Any) -> int | None:
        async with self.engine.begin() as conn:
            return await _write(conn, command.entry, command.state, command.notice, upsert)

    @activity.defn(name=RECORD_CASE_EVENT)
    @classified(RECORD_CASE_EVENT)
    async def record_case_event(self, command: RecordCaseEvent) -> Recorded:
        """Idempotent by (case, seq): a retry after the transaction committed answers with the stored hash.

        The workflow sends the event without its hash and the case with references for its free text; the
        texts (and, for `run_matching`, the full candidates) are read back from PostgreSQL, so the event is
        hashed and stored with the words as typed and the read model shows them.
        """
        header = command.header
        async with self.engine.begin() as conn:
            stored = await conn.scalar(
                select(audit_events.c.hash).where(audit_events.c.case_id == header.case_id,
                                                  audit_events.c.seq == header.seq)
            )
            if stored is not None:
                return Recorded(hash=stored, waiting=await _waiting(conn, header.case_id, header.seq))
            previous = await conn.scalar(select(cases.c.snapshot).where(cases.c.id == header.case_id))
            before = CaseState.model_validate(previous) if previous is not None else None
            refs = set(refs_in_state(command.state)) | _refs_in(command.payload)
            if command.candidates_ref:
                refs.add(command.candidates_ref)
            texts = await kept_texts(conn, header.case_id, refs)
            payload = (resolve_request(command.payload, texts) if header.type == events.FILED
                       else resolve_payload(header.type, command.payload, texts))
            after = resolve_state(command.state, texts)
            if command.candidates_ref:
                ranked = [Candidate.model_validate(c) for c in json.loads(texts[command.candidates_ref])]
                payload["candidates"] = [c.model_dump(mode="json") for c in ranked]
                after = after.model_copy(update={"candidates": ranked})
            elif before is not None:
                after = _with_candidate_details(after, before)
            if command.claim is not None:
                action = events.FILE if header.type == events.FILED else header.type
                earlier = await claim_key(conn, command.claim, header.case_id, action, header.seq)
                if earlier is not None:  # raising rolls the transaction back: nothing of this event is written
                    raise ApplicationError(
                        f"the Idempotency-Key was used for {earlier.action} (event {earlier.seq}) already",
                        earlier.model_dump(), type=KEY_USED, non_retryable=True,
                    )
            entry = make_entry(**header.model_dump(), payload=payload)
            after = after.model_copy(update={"seq": entry.seq, "last_hash": entry.hash})
            told = notice(header.type, before or after, after, payload)
            try:
                waiting = await _write(conn, entry, after, told, _upsert(after))
            except DataError as error:  # retrying cannot help: refuse the action instead of hanging the case
                raise ApplicationError(
                    f"the database cannot store this event: {error.orig}", type=UNSTORABLE, non_retryable=True
                ) from error
        return Recorded(hash=entry.hash, waiting=int(waiting or 0))


def _refs_in(payload: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for value in payload.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict):
                found |= _refs_in(item)
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


async def _waiting(conn: AsyncConnection, case_id: str, seq: int) -> int:
    """How many of an event's e-mails are not sent yet (counted, so a retry reports them too)."""
    return int(await conn.scalar(
        select(func.count()).where(notifications.c.case_id == case_id, notifications.c.seq == seq,
                                   notifications.c.sent_at.is_(None))
    ) or 0)


def _upsert(state: CaseState) -> Any:
    """The read model's row of the case; it only ever moves forward (a replayed older event changes nothing)."""
    row = {
        "id": state.id,
        "reference": state.reference,
        "stage": state.stage,
        "outcome": state.outcome,
        "applicant_org": state.applicant_org,
        "company_name": state.request.company.name,
        "offices": [r.office for r in state.offices],
        "lead_office": state.lead_office,
        "assignee": state.assignee,
        "assignee_id": state.assignee_id,
        "due_at": state.due_at,
        "overdue": state.overdue,
        "escalation_level": state.escalation_level,
        "paused": state.paused,
        "seq": state.seq,
        "snapshot": state.model_dump(mode="json"),
        "created_at": state.created_at,
        "updated_at": state.updated_at,
    }
    upsert = insert(cases).values(row)
    return upsert.on_conflict_do_update(
        index_elements=[cases.c.id],
        set_={k: upsert.excluded[k] for k in row if k not in ("id", "created_at")},
        where=cases.c.seq < upsert.excluded.seq,
    )


async def _write(conn: AsyncConnection, entry: AuditEntry, state: CaseState, notice: Notice | None,
                 upsert: Any) -> int | None:
    """The event, the read model and the outbox, in the caller's transaction; how many e-mails wait."""
    event = (
        insert(audit_events)
        .values(entry.model_dump())
        .on_conflict_do_nothing(index_elements=[audit_events.c.case_id, audit_events.c.seq])
        .returning(audit_events.c.seq)
        .cte("event")
    )
    model = upsert.returning(cases.c.id).cte("model")
    # One round trip writes both (PostgreSQL runs every data-modifying CTE); it answers how many of each.
    both = select(
        select(func.count()).select_from(event).scalar_subquery(),
        select(func.count()).select_from(model).scalar_subquery(),
    )
    inserted, _ = (await conn.execute(both)).one()
    waiting: int | None = 0
    if notice is not None:
        await write_outbox(conn, entry, state, notice)
        # Counted, not taken from the insert: a retry after a lost result must still report them.
        waiting = await _waiting(conn, state.id, entry.seq)
    log.info(
        "case event recorded", case_id=entry.case_id, seq=entry.seq, type=entry.type, stage=entry.stage_after,
        duplicate=inserted == 0,
    )
    return waiting
