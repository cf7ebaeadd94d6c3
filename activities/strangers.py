"""What the recording step finds already stored at the seq it is to write, and the voiding of events no workflow took.

An Update records its event in the workflow task that accepts it (a local activity, issue 15); a task that is lost
after the event committed leaves it behind, and the next step the workflow records comes to the same seq
(`domain.voiding`). Every stored event from that seq on must be chained after the workflow's last hash and signed as
the recording step signs (else `stored_event_invalid`, as before). Then either the last of them is the very event
being recorded (a retry, or the Update delivered again): the step answers with it; or they are strangers: an
`events_voided` event is written after them, their unsent e-mails are cancelled and their Idempotency-Keys freed (a
caller's retry with the same key applies the action again), and the event is recorded after the voiding.
"""

from __future__ import annotations

import structlog
from pydantic import ValidationError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.stored import refused_stored_event, stored_entry
from contracts.activities import EventHeader
from domain import events
from domain.audit import AuditEntry
from domain.chain_verification import stored_event_problem
from domain.filing import Contact
from domain.model import Action, Candidate
from domain.signing import Keyring, Signer
from domain.stored_rows import ROW_COLUMNS
from domain.system_events import signed_event_after
from domain.voiding import void_payload
from infra.audit_trail import TAKEN, rows_in
from infra.outbox import Status, contact_email, readdress
from infra.tables import audit_events, idempotency_keys, notifications

log = structlog.get_logger(__name__)

_EVENTS_FROM = f"SELECT {ROW_COLUMNS} FROM audit_events WHERE case_id = $1 AND seq >= $2 ORDER BY seq"
"""The events stored under the case from a seq on, for COPY (`infra.audit_trail.rows_in`)."""


async def stored_from(conn: AsyncConnection, header: EventHeader, keyring: Keyring) -> list[AuditEntry]:
    """The events stored under the case from `header.seq` on, oldest first, each shown to be chained after the one
    before (the first after `header.prev_hash`, the workflow's last hash) and signed with a key of `keyring`.

    Raises the non-retryable `stored_event_invalid` for the first that is not (`activities.stored`)."""
    stored: list[AuditEntry] = []
    prev = header.prev_hash
    for row in await rows_in(conn, _EVENTS_FROM, header.case_id, header.seq):
        entry = stored_entry(header.case_id, row)
        if entry.seq != header.seq + len(stored):
            raise refused_stored_event(header.case_id, entry.seq, f"event {header.seq + len(stored)} is missing")
        if (problem := stored_event_problem(entry, prev, keyring)) is not None:
            raise refused_stored_event(header.case_id, entry.seq, problem)
        stored.append(entry)
        prev = entry.hash
    return stored


async def candidates_taken(conn: AsyncConnection, header: EventHeader) -> list[Candidate]:
    """The candidates, with their names, factors and reasons, of the case's last `run_matching` before `header.seq`
    that was not voided (`infra.audit_trail.TAKEN`): where the read model, showing strangers, no longer has them. Empty
    when there is no such event, or its owner altered its candidates into something else."""
    found = await conn.scalar(
        select(audit_events.c.payload["candidates"])
        .where(audit_events.c.case_id == header.case_id, audit_events.c.type == Action.RUN_MATCHING,
               audit_events.c.seq < header.seq, TAKEN)
        .order_by(audit_events.c.seq.desc()).limit(1)
    )
    try:
        return [Candidate.model_validate(candidate) for candidate in found or []]
    except (ValidationError, TypeError):
        return []


async def void_strangers(conn: AsyncConnection, strangers: list[AuditEntry], header: EventHeader,
                         signer: Signer, contact: Contact) -> EventHeader:
    """Void `strangers` (events from `header.seq` on that the case never took) in the caller's transaction; answers
    the header of the event to record, now after the voiding. A stranger at seq 1 is refused for good: a case is
    filed once, and its filing delivered again is the same event (`domain.voiding.answering`).

    `contact` is the applicant's contact as the case has it (the workflow's): unsent mail that a stranger
    (`update_contact`) readdressed goes back to it, never to an address only a voided event gave."""
    first, last = strangers[0], strangers[-1]
    if first.seq == 1 or header.stage_before is None:
        raise refused_stored_event(header.case_id, first.seq, "it is not the filing this case's workflow records")
    voiding = signed_event_after(
        case_id=header.case_id, last_seq=last.seq, last_hash=last.hash, type=events.VOIDED, at=header.at,
        stage_before=last.stage_after, stage_after=header.stage_before, payload=void_payload(first.seq, last.seq),
        signer=signer, salt=header.salt,
    )
    await conn.execute(insert(audit_events).values(**voiding.model_dump()))
    voided = (notifications.c.case_id == header.case_id) & notifications.c.seq.between(first.seq, last.seq)
    await conn.execute(update(notifications).where(voided, notifications.c.status == Status.PENDING)
                       .values(status=Status.CANCELLED))
    await conn.execute(delete(idempotency_keys).where(idempotency_keys.c.case_id == header.case_id,
                                                      idempotency_keys.c.seq.between(first.seq, last.seq)))
    shown = await contact_email(conn, header.case_id)  # the read model, as the strangers left it
    if shown is not None and shown != str(contact.email):
        await readdress(conn, header.case_id, shown, contact.name, str(contact.email), header.at)
    log.warning("events no workflow took voided", case_id=header.case_id, from_seq=first.seq, to_seq=last.seq,
                types=[s.type for s in strangers][:20], voided_by=voiding.seq)
    return header.model_copy(update={"seq": voiding.seq + 1, "prev_hash": voiding.hash})
