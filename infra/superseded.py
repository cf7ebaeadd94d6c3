"""Superseding events whose workflow task was lost (issue 15).

The case workflow records its events inside its workflow task (a local activity): the event is committed a
moment before Temporal keeps the task that caused it. When the worker dies in between, Temporal runs the task
again — usually with the same step (the same Update id, timer or signal), and the recording step then answers
with the event already stored. When a different step comes instead (the Update was lost with its caller), the
stored event is one the workflow never had: it and any after it are moved whole to `superseded_events`, their
unsent mail withdrawn and their Idempotency-Keys released, so the workflow's step takes that position.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import delete, func, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.outbox import Status
from infra.tables import audit_events, idempotency_keys, notifications

log = structlog.get_logger(__name__)

_MOVE_ASIDE = text(
    "INSERT INTO superseded_events (case_id, seq, hash, step, event, superseded_at, superseded_by_step) "
    "SELECT e.case_id, e.seq, e.hash, e.step, to_jsonb(e) - 'personal' - 'personal_salt', :at, :by_step "
    "FROM audit_events e WHERE e.case_id = :case_id AND e.seq >= :seq ON CONFLICT DO NOTHING"
)


async def supersede_from(conn: AsyncConnection, case_id: str, seq: int, by_step: str | None, at: datetime) -> int:
    """In the caller's transaction, move the case's events from `seq` on to `superseded_events` (personal data
    left out; the digest that the hash covers stays), withdraw their mail not yet sent, keep the mail that went out
    under a new id, and release the Idempotency-Keys they claimed. Returns how many events were moved."""
    params = {"case_id": case_id, "seq": seq, "at": at, "by_step": by_step}
    await conn.execute(_MOVE_ASIDE, params)
    await conn.execute(text("SELECT set_config('alliance.superseding', :mark, true)"), {"mark": f"{case_id}:{seq}"})
    moved = await conn.execute(delete(audit_events).where(audit_events.c.case_id == case_id,
                                                          audit_events.c.seq >= seq))
    await conn.execute(text("SELECT set_config('alliance.superseding', '', true)"))
    of_tail = (notifications.c.case_id == case_id) & (notifications.c.seq >= seq)
    await conn.execute(delete(notifications).where(of_tail, notifications.c.status == Status.PENDING))
    # What went out already stays on record; a new id frees the old one for the event that takes its place.
    await conn.execute(update(notifications).where(of_tail).values(id=func.gen_random_uuid()))
    await conn.execute(delete(idempotency_keys).where(idempotency_keys.c.case_id == case_id,
                                                      idempotency_keys.c.seq >= seq))
    count = int(moved.rowcount or 0)
    log.warning("unconfirmed events superseded", case_id=case_id, seq=seq, events=count, by_step=by_step)
    return count

