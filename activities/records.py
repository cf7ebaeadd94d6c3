"""Record an accepted action: its audit event, the refreshed read model and the mail it causes, all or nothing —
the common event in one statement (`activities.lone_write`), any other in one transaction."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.event_inputs import after_event, read_before, refs_in, resolved
from activities.failures import classified, is_unstorable
from activities.lone_write import MOST_TOLD, bound_columns, row_parameters, write_alone
from activities.outbox import outbox_rows, write_outbox
from activities.stored import refused_stored_event, stored_entry
from activities.strangers import candidates_taken, stored_from, void_strangers
from contracts.activities import (
    RECORD_CASE_EVENT,
    RECORD_EVENT,
    STORED_FILING,
    EventHeader,
    RecordCaseEvent,
    Recorded,
    RecordEvent,
    StoredFiling,
)
from contracts.errors import KEY_USED, UNSTORABLE
from domain import events
from domain.audit import GENESIS_HASH, AuditEntry, make_entry, sign
from domain.chain_verification import stored_event_problem
from domain.filing import FilingRequest
from domain.model import Action, Actor, CaseState
from domain.notifications import Notice, notice
from domain.signing import Keyring, Signer
from domain.stored_rows import ROW_COLUMNS
from domain.texts import bound_request, refs_in_state
from domain.voiding import answering
from infra.audit_trail import rows_in
from infra.case_rows import case_row, stored_case
from infra.db import autocommit
from infra.idempotency import claim_key
from infra.outbox import contact_email, note_reported, readdress
from infra.tables import audit_events, cases
from infra.texts import keep_texts

log = structlog.get_logger(__name__)

SEQ_TAKEN = "seq_taken"
"""A retried failure: the event's (case, seq) was taken by another try while this one wrote."""


class CaseRecords:
    def __init__(self, engine: AsyncEngine, signer: Signer, keyring: Keyring | None = None) -> None:
        """`signer`: the key every recorded event is signed with (AUDIT_SIGNING_KEY), never stored; `keyring`:
        the keys a row already stored under an event's (case, seq) must be signed with (default: the signer's)."""
        self.engine = engine
        self.signer = signer
        self.keyring = keyring or Keyring.of([signer.public])

    @functools.cached_property
    def lone(self) -> AsyncEngine:
        """The engine in autocommit: reads, and the common event's one statement (`activities.lone_write`)."""
        return autocommit(self.engine)

    @activity.defn(name=RECORD_EVENT)
    @classified(RECORD_EVENT)
    async def record_event(self, command: RecordEvent) -> int:
        """Cases recorded before their free text left the workflow (no `bounded-case-state` patch): the
        workflow sends the whole event and the whole case.

        Idempotent: the event's key is (case, seq), and the read model only ever moves forward.

        The e-mails the event causes go into the outbox in the same transaction (the mail relay sends them);
        returns 0, the number of e-mails the workflow's old courier must deliver.
        """
        with _refused_when_unstorable():
            await self._write(command)
        return 0

    async def _write(self, command: RecordEvent) -> None:
        async with self.engine.begin() as conn:
            entry = sign(command.entry, self.signer)  # the workflow hashed it; only this step holds the key
            await _stored_event(conn, entry.case_id, entry.seq, entry.prev_hash, self.keyring)
            await _write(conn, entry, command.state, command.notice)

    @activity.defn(name=RECORD_CASE_EVENT)
    @classified(RECORD_CASE_EVENT)
    async def record_case_event(self, command: RecordCaseEvent) -> Recorded:
        """Idempotent by (case, seq): a retry after the transaction committed answers with the stored event,
        once the rows from that seq on are shown to be chained after the workflow's last hash and signed as the
        recording step signs (else refused for good: `stored_event_invalid`, an incident) and the last of them is
        this very event (`domain.voiding.answering`); other events there were recorded in a workflow task that was
        lost, and are voided before this one is recorded (`activities.strangers`: the answer then names its seq).

        The event is signed here (its hash, with the worker's AUDIT_SIGNING_KEY), so the database alone can
        neither extend a chain nor make an event up.

        The workflow sends the event without its hash and the case with references for its free text; the
        texts (and, for `run_matching`, the full candidates) are read back from PostgreSQL, so the event is
        hashed and stored with the words as typed and the read model shows them.

        An event with no Idempotency-Key, no try before it and nothing else to change is read and written in two
        or three statements in autocommit (`activities.lone_write`, issue 15): no BEGIN, no COMMIT, the outbox in
        the same statement as the event. Any other takes the transaction.
        """
        header = command.header
        refs = set(refs_in_state(command.state)) | refs_in(command.payload)
        if command.candidates_ref:
            refs.add(command.candidates_ref)
        if command.claim is None and header.type not in _IN_A_TRANSACTION:  # else the transaction at once
            if (recorded := await self._recorded_alone(command, refs)) is not None:
                return recorded
        async with self.engine.begin() as conn:
            # One round trip: whether a try before this one stored the event, the case as the read model has
            # it, and the texts its references stand for.
            tried, previous, kept = await read_before(conn, header.case_id, header.seq, refs)
            texts, payload, ranked = resolved(command, kept)
            # A try before this one, or a workflow task that was lost, stored events from this seq on.
            stored = await stored_from(conn, header, self.keyring) if tried else []
            if stored and (ours := answering(stored, make_entry(**header.model_dump(), payload=payload))):
                return Recorded(hash=ours.hash, seq=ours.seq)
            before = stored_case(previous, header.case_id) if previous is not None else None
            # strangers' candidates are not the case's: those of its own matching are
            known = before.model_copy(update={"candidates": await candidates_taken(conn, header)}) \
                if stored and before is not None and ranked is None else before
            after = after_event(command, texts, ranked, known)
            if stored:  # the read model shows the strangers: who is told is judged on the case after
                header = await void_strangers(conn, stored, header, self.signer, after.request.contact)
                before = None
            if command.claim is not None:
                action = events.FILE if header.type == events.FILED else header.type
                earlier = await claim_key(conn, command.claim, header.case_id, action, header.seq)
                if earlier is not None:  # raising rolls the transaction back: nothing of this event is written
                    raise ApplicationError(
                        f"the Idempotency-Key was used for {earlier.action} (event {earlier.seq}) already",
                        earlier.model_dump(), type=KEY_USED, non_retryable=True,
                    )
            entry, after, told = self._signed(header, payload, before or after, after)
            with _refused_when_unstorable():
                await _write(conn, entry, after, told, own_seq=True)
        return Recorded(hash=entry.hash, seq=entry.seq)

    async def _recorded_alone(self, command: RecordCaseEvent, refs: set[str]) -> Recorded | None:
        """The common event read, then written in one statement (`activities.lone_write`): no BEGIN and no COMMIT;
        None when it is not that common (a try before this one stored an event at its seq, or it tells more people
        than one statement holds): the transaction's to record."""
        header = command.header
        async with self.lone.connect() as conn:
            tried, previous, kept = await read_before(conn, header.case_id, header.seq, refs)
            if tried:
                return None
            texts, payload, ranked = resolved(command, kept)
            before = stored_case(previous, header.case_id) if previous is not None else None
            after = after_event(command, texts, ranked, before)
            entry, after, told = self._signed(header, payload, before or after, after)
            rows = await outbox_rows(conn, entry, after, told) if told is not None else []
            if len(rows) > MOST_TOLD:  # too many parameters for one statement
                return None
            with _refused_when_unstorable():
                if not await write_alone(conn, entry, after, rows):
                    raise _seq_taken(entry)
        _logged(entry, inserted=True)
        return Recorded(hash=entry.hash, seq=entry.seq)

    def _signed(self, header: EventHeader, payload: dict[str, Any], before: CaseState, after: CaseState
                ) -> tuple[AuditEntry, CaseState, Notice | None]:
        """The event signed (AUDIT_SIGNING_KEY), the case numbered and chained by it, and who it tells."""
        entry = sign(make_entry(**header.model_dump(), payload=payload), self.signer)
        after = after.model_copy(update={"seq": entry.seq, "last_hash": entry.hash})
        return entry, after, notice(header.type, before, after, payload)

    @activity.defn(name=STORED_FILING)
    @classified(STORED_FILING)
    async def stored_filing(self, case_id: str) -> StoredFiling | None:
        """The filing stored as the case's event 1, when one is: recorded in the workflow task that accepted the
        filing, which was lost and its Update never delivered again, so the workflow never took it. Verified as
        `record_case_event` verifies what it finds (else `stored_event_invalid`); its free text is kept again, so
        the workflow can hold it by reference."""
        async with self.engine.begin() as conn:
            stored = await _stored_event(conn, case_id, 1, GENESIS_HASH, self.keyring)
            if stored is None or stored.type != events.FILED:
                return None
            request, texts = bound_request(stored.full_payload())
            await keep_texts(conn, case_id, texts)
        return StoredFiling(request=FilingRequest.model_validate(request), actor=Actor.model_validate(stored.actor),
                            at=stored.at, hash=stored.hash)


@contextmanager
def _refused_when_unstorable() -> Iterator[None]:
    """Turn a value PostgreSQL refuses for good into a non-retryable `unstorable`: retrying cannot help, so
    the action is refused instead of hanging the case (`activities.failures.is_unstorable` says which)."""
    try:
        yield
    except DBAPIError as error:
        if not is_unstorable(error):
            raise
        raise ApplicationError(
            f"the database cannot store this event: {error.orig}", type=UNSTORABLE, non_retryable=True
        ) from error


async def _stored_event(conn: AsyncConnection, case_id: str, seq: int, prev_hash: str,
                        keyring: Keyring) -> AuditEntry | None:
    """The event already stored under (case, seq) — a try before this one wrote it — or None; raises a
    non-retryable `stored_event_invalid` when that row holds no event (`activities.stored`) or does not verify
    after `prev_hash` (the workflow's last hash): it was not written by this step, and trusting it would chain the
    case onto a forgery."""
    rows = await rows_in(conn, _STORED_EVENT, case_id, seq)
    if not rows:
        return None
    stored = stored_entry(case_id, rows[0])
    if (problem := stored_event_problem(stored, prev_hash, keyring)) is not None:
        raise refused_stored_event(case_id, seq, problem)
    return stored


_STORED_EVENT = f"SELECT {ROW_COLUMNS} FROM audit_events WHERE case_id = $1 AND seq = $2"
"""The row stored under (case, seq), for COPY (`infra.audit_trail.rows_in`)."""


_IN_A_TRANSACTION = frozenset({Action.UPDATE_CONTACT, events.MAIL_UNDELIVERABLE})
"""Events that change other rows too (the unsent mail of a corrected contact; the undeliverable message reported):
written in a transaction (`_write`), never alone (`activities.lone_write`)."""


def _seq_taken(entry: AuditEntry) -> ApplicationError:
    return ApplicationError(f"event {entry.seq} of case {entry.case_id} was stored meanwhile by another try",
                            type=SEQ_TAKEN)


def _logged(entry: AuditEntry, *, inserted: bool) -> None:
    log.info("case event recorded", case_id=entry.case_id, seq=entry.seq, type=entry.type, stage=entry.stage_after,
             duplicate=not inserted)


# The statements every event runs are built once (issue 15): building and keying them cost ~1-2 ms of the
# worker's CPU per event, more than PostgreSQL takes to run them. Values go in as bound parameters.

@functools.cache
def _write_statement(event_columns: tuple[str, ...], case_columns: tuple[str, ...]) -> Any:
    """The event (kept once per (case, seq)) and the read model's row (which only ever moves forward: a replayed
    older event changes nothing), in one round trip (PostgreSQL runs every data-modifying CTE); it answers how
    many rows of each it wrote. Built once per shape of row; parameters `event_<column>` and `case_<column>`."""
    event = (
        insert(audit_events)
        .values(bound_columns("event_", audit_events, event_columns))
        .on_conflict_do_nothing(index_elements=[audit_events.c.case_id, audit_events.c.seq])
        .returning(audit_events.c.seq)
        .cte("event")
    )
    upsert = insert(cases).values(bound_columns("case_", cases, case_columns))
    model = upsert.on_conflict_do_update(
        index_elements=[cases.c.id],
        set_={name: upsert.excluded[name] for name in case_columns if name not in ("id", "created_at")},
        where=cases.c.seq < upsert.excluded.seq,
    ).returning(cases.c.id).cte("model")
    return select(
        select(func.count()).select_from(event).scalar_subquery(),
        select(func.count()).select_from(model).scalar_subquery(),
    )


async def _write(conn: AsyncConnection, entry: AuditEntry, state: CaseState, notice: Notice | None, *,
                 own_seq: bool = False) -> None:
    """The event, the read model and the outbox, in the caller's transaction (the mail relay delivers it).

    `own_seq`: the event must be the one stored under its (case, seq). Another try that stored its event there
    since this one read the trail (a worker that lost its workflow task and another running it again: their events
    differ in time and salt) makes this a retried failure, which rolls everything back; the retry reads that event
    (`activities.strangers`) instead of answering with a hash no stored event has."""
    readdressed_from = await contact_email(conn, entry.case_id) if entry.type == Action.UPDATE_CONTACT else None
    event, case = entry.model_dump(), case_row(state)
    inserted, _ = (await conn.execute(_write_statement(tuple(event), tuple(case)), row_parameters(event, case))).one()
    if own_seq and not inserted:
        raise _seq_taken(entry)
    if notice is not None:
        await write_outbox(conn, entry, state, notice)
    if entry.type == events.MAIL_UNDELIVERABLE:
        await note_reported(conn, str(entry.payload["message"]), entry.at)
    if readdressed_from is not None and inserted:  # mail not yet delivered goes to the corrected address
        contact = state.request.contact
        await readdress(conn, entry.case_id, readdressed_from, contact.name, str(contact.email), entry.at)
    _logged(entry, inserted=bool(inserted))
