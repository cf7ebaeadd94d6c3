"""Events on the trail of a case whose workflow has finished: nothing else writes that trail any more, so
the next event is chained here, under a lock on the case's row (the same way the retention job appends its
erasure). Today only the mail relay's `mail_undeliverable` comes this way."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import structlog
from sqlalchemy import exists, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.chain_verification import NO_EVENTS
from domain.checkpoints import UNHELD, held_through
from domain.errors import Unreplayable
from domain.model import Stage
from domain.signing import EVENT_CONTEXT, Keyring, Signer
from domain.system_events import signed_event_after
from infra.case_rows import stored_case
from infra.outbox import note_reported
from infra.stored_checkpoints import case_anchor
from infra.tables import audit_events, cases, notifications

log = structlog.get_logger(__name__)

Appended = Literal["appended", "already", "open", "unknown", "broken", "damaged"]
"""What became of a system event for a closed case: on its trail now, there before (the message it tells of was
reported already), not appended because the case is open (its workflow records its events), no such case, or not
appended because the trail's last event is not signed as the Case Desk signs, nor from before signing and held by a
signed checkpoint (a signed event chained onto it would vouch for a forgery: README, "For auditors"), or the trail
holds no event at all, or not
appended because the case's read-model row holds no case (`infra.case_rows.stored_case`: its owner altered it)."""


async def append_to_closed_case(engine: AsyncEngine, signer: Signer, case_id: str, event_type: str,
                                payload: dict[str, Any], now: datetime, *,
                                reported_message: str | None = None, keyring: Keyring | None = None) -> Appended:
    """Chain a system event, signed with `signer` (AUDIT_SIGNING_KEY), onto a closed case's trail and move its
    read model on. Under the case row's lock, so two relays telling of the same message append it once."""
    async with engine.begin() as conn:
        snapshot = (await conn.execute(
            select(cases.c.snapshot).where(cases.c.id == case_id).with_for_update()
        )).scalar_one_or_none()
        if snapshot is None:
            return "unknown"
        try:
            state = stored_case(snapshot, case_id)
        except Unreplayable as damaged:
            log.error("closed case's record holds no case: nothing chained onto its trail", case_id=case_id,
                      problem=damaged.detail)
            return "damaged"
        if state.stage != Stage.CLOSED:
            return "open"
        if reported_message is not None and await conn.scalar(
            select(notifications.c.reported_at).where(notifications.c.id == reported_message)
        ) is not None:
            return "already"
        last = (await conn.execute(
            select(audit_events.c.seq, audit_events.c.hash, audit_events.c.key_id, audit_events.c.signature)
            .where(audit_events.c.case_id == case_id).order_by(audit_events.c.seq.desc()).limit(1)
        )).first()
        problem = None
        keyring = keyring or Keyring.of([signer.public])
        if last is None:  # every event deleted by the table's owner
            problem = NO_EVENTS
        elif last.seq is None or last.hash is None:  # a NOT NULL the owner dropped (a NULL seq sorts first here)
            problem = "its seq or hash is NULL, which no recorded event's is"
        elif last.signature is not None or last.key_id is not None:
            problem = keyring.check(EVENT_CONTEXT, last.hash, last.key_id, last.signature)
        elif await conn.scalar(select(exists().where(audit_events.c.case_id == case_id,
                                                     audit_events.c.signature.is_not(None)))):
            problem = "it is not signed, though an earlier event of its chain is"
        elif held_through(await case_anchor(engine, case_id, keyring)) < last.seq:  # from before signing: anchored?
            problem = UNHELD
        if problem is not None:
            log.error("closed case's last event does not hold: nothing chained onto it", case_id=case_id,
                      seq=last.seq if last else None, problem=problem)
            return "broken"
        assert last is not None  # for mypy: no problem above
        event = signed_event_after(
            case_id=case_id, last_seq=last.seq, last_hash=last.hash, type=event_type, at=now,
            stage_before=state.stage, stage_after=state.stage, payload=payload, signer=signer, salt=uuid.uuid4().hex,
        )
        await conn.execute(insert(audit_events).values(**event.model_dump()))
        after = state.model_copy(update={"seq": event.seq, "last_hash": event.hash, "updated_at": now})
        await conn.execute(update(cases).where(cases.c.id == case_id).values(
            snapshot=after.model_dump(mode="json"), seq=event.seq, updated_at=now,
        ))
        if reported_message is not None:
            await note_reported(conn, reported_message, now)
    return "appended"
