"""The nightly verification as an activity: check every chain, record the result, tell the auditors.

Idempotent: the result is recorded once per verification run (a retry finds its own event and returns it),
and the auditors' e-mails are keyed by that event, so a retry never mails twice. After recording, a signed
checkpoint of every case's head is taken (a retry after that may take another: checkpoints only add).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import structlog
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity

from activities.failures import classified
from activities.outbox import OUTBOX_NAMESPACE
from activities.stored import refused_stored_event, stored_entry
from contracts.activities import VERIFY_AUDIT_TRAIL
from domain.audit import AuditEntry
from domain.checkpoints import Head
from domain.model import OVERSIGHT, SYSTEM_ACTOR, Role
from domain.signing import AuditKeys
from domain.stored_rows import ROW_COLUMNS
from domain.verification import (
    OVERSIGHT_CHAIN,
    VERIFIED_EVENT,
    BrokenChain,
    VerificationSummary,
    verification_mail,
)
from infra.audit_trail import rows_in
from infra.checkpoints import send_undelivered, take_checkpoint
from infra.db import session_factory
from infra.oversight import append_to_oversight, lock_oversight_chain
from infra.stored_checkpoints import latest_anchors
from infra.streamed_verification import verify_every_chain
from infra.tables import notifications, users

log = structlog.get_logger(__name__)


class AuditVerification:
    def __init__(self, engine: AsyncEngine, keys: AuditKeys, checkpoint_log: Path | None,
                 checkpoint_url: str | None = None) -> None:
        """`keys` sign the recorded result and the checkpoint; `checkpoint_log`: the file checkpoints are also
        appended to (None: the table only); `checkpoint_url`: where each is also sent (AUDIT_CHECKPOINT_URL)."""
        self.engine = engine
        self.keys = keys
        self.checkpoint_log = checkpoint_log
        self.checkpoint_url = checkpoint_url

    async def check_every_chain(self, run: str, heads: list[Head] | None = None) -> VerificationSummary:
        """Every chain, from where the latest verified checkpoint left each (the events after it, vouched for by
        each case's head's signature; a verification of each signature is `alliance audit verify
        --every-signature`); the heads found intact go into `heads`."""
        chains = events = 0
        broken: list[BrokenChain] = []
        anchors = await latest_anchors(self.engine, self.keys.keyring)
        starts = await latest_anchors(self.engine, self.keys.keyring, verified=True)
        async for case_id, report in verify_every_chain(session_factory(self.engine), self.keys.keyring, anchors,
                                                        starts=starts, heads=heads, every_signature=False):
            chains, events = chains + 1, events + report.events
            if not report.valid:
                broken.append(BrokenChain(case_id=case_id, first_broken_seq=report.first_broken_seq,
                                          reason=report.reason))
            if activity.in_activity() and chains % 1000 == 0:
                activity.heartbeat(chains)
        return VerificationSummary(run=run, chains=chains, events=events, broken=broken)

    @activity.defn(name=VERIFY_AUDIT_TRAIL)
    @classified(VERIFY_AUDIT_TRAIL)
    async def verify_audit_trail(self, run: str) -> VerificationSummary:
        """Verify the whole trail once for `run` (what came after the last verified checkpoint), record the
        outcome in the oversight chain, mail if broken, then sign a verified checkpoint over the heads found
        intact (the oversight chain's new one instead of its last, when that chain was intact)."""
        heads: list[Head] = []
        summary = await self.check_every_chain(run, heads)
        async with self.engine.begin() as conn:
            await lock_oversight_chain(conn)
            recorded = await _recorded(conn, run)
            if recorded is not None:
                return recorded
            entry = await _append(conn, summary, self.keys)
            if not summary.intact:
                await _tell_auditors(conn, entry, summary)
        if entry.seq == 1 or any(h.case_id == OVERSIGHT_CHAIN and h.seq == entry.seq - 1 for h in heads):
            heads = [h for h in heads if h.case_id != OVERSIGHT_CHAIN]
            heads.append(Head(case_id=OVERSIGHT_CHAIN, seq=entry.seq, head_hash=entry.hash))  # written on it just now
        await take_checkpoint(self.engine, self.keys, self.checkpoint_log, datetime.now(UTC), url=self.checkpoint_url,
                              verified=heads)
        if self.checkpoint_url is not None:  # and those the target has not received (taken before it was set)
            async for checkpoint, problem in send_undelivered(self.engine, self.checkpoint_url):
                log.info("audit checkpoint sent", checkpoint=checkpoint.id, delivered=problem is None)
        log.info("audit trail verified", run=run, chains=summary.chains, events=summary.events,
                 broken=len(summary.broken))
        return summary


async def _recorded(conn: AsyncConnection, run: str) -> VerificationSummary | None:
    """The result a try before this one recorded for `run`, or None; a non-retryable `stored_event_invalid` when the
    row holding it holds no event or no verification's result (the table's owner altered it)."""
    rows = await rows_in(conn, _RECORDED, OVERSIGHT_CHAIN, run)
    if not rows:
        return None
    entry = stored_entry(OVERSIGHT_CHAIN, rows[0])
    try:
        return VerificationSummary.model_validate(entry.payload)
    except ValidationError:
        raise refused_stored_event(OVERSIGHT_CHAIN, entry.seq, "its payload is not a verification's result: the "
                                   "event was altered") from None


_RECORDED = f"SELECT {ROW_COLUMNS} FROM audit_events WHERE case_id = $1 AND payload->>'run' = $2 ORDER BY seq LIMIT 1"
"""The oversight chain's event recording a run, for COPY (`infra.audit_trail.rows_in`)."""


async def _append(conn: AsyncConnection, summary: VerificationSummary, keys: AuditKeys) -> AuditEntry:
    return await append_to_oversight(conn, VERIFIED_EVENT, summary.model_dump(mode="json"), SYSTEM_ACTOR,
                                     datetime.now(UTC), keys.signer)


async def _tell_auditors(conn: AsyncConnection, entry: AuditEntry, summary: VerificationSummary) -> None:
    auditors = (await conn.execute(
        select(users.c.name, users.c.email, users.c.language).where(
            users.c.role == Role.AUDITOR, users.c.org == OVERSIGHT, users.c.email.is_not(None),
            users.c.revoked_at.is_(None),
        ).order_by(users.c.email)
    )).all()
    rows = []
    for person in auditors:
        subject, body = verification_mail(person.language, summary)
        rows.append({
            "id": str(uuid.uuid5(OUTBOX_NAMESPACE, f"{entry.case_id}:{entry.seq}:{person.email.lower()}")),
            "case_id": entry.case_id, "seq": entry.seq, "template": "audit_broken",
            "recipient_name": person.name, "recipient_email": person.email, "language": person.language,
            "subject": subject, "body": body, "created_at": entry.at,
        })
    if rows:
        await conn.execute(insert(notifications).values(rows).on_conflict_do_nothing())


