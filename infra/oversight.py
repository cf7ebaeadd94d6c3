"""The oversight chain (`domain.verification.OVERSIGHT_CHAIN`): the signed trail of what was done to the audit
trail itself — each nightly verification's result, each anchoring of unsigned trails by an operator."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.audit import GENESIS_HASH, AuditEntry
from domain.model import Actor
from domain.signing import Signer
from domain.system_events import signed_event_after
from domain.verification import OVERSIGHT_CHAIN, OVERSIGHT_STAGE
from infra.tables import audit_events


async def lock_oversight_chain(conn: AsyncConnection) -> None:
    """Hold the oversight chain for the caller's transaction: one writer at a time chains onto its head."""
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:chain))"), {"chain": OVERSIGHT_CHAIN})


async def append_to_oversight(conn: AsyncConnection, event_type: str, payload: dict[str, Any], actor: Actor,
                              at: datetime, signer: Signer) -> AuditEntry:
    """Chain one event, signed with `signer` (AUDIT_SIGNING_KEY), onto the oversight chain's stored head, in the
    caller's transaction (under `lock_oversight_chain`); the event as stored."""
    await lock_oversight_chain(conn)
    # A row whose seq its owner set NULL (the key dropped) comes first in `seq DESC`: it is no head, and chaining
    # onto it failed every write, silencing the nightly record (and its mail). The chain breaks at such a row for
    # every verifier; what is done is recorded all the same, after the last row with a seq (a NULL hash there:
    # chained onto the genesis hash, broken there too).
    last = (await conn.execute(
        select(audit_events.c.seq, audit_events.c.hash)
        .where(audit_events.c.case_id == OVERSIGHT_CHAIN, audit_events.c.seq.is_not(None))
        .order_by(audit_events.c.seq.desc()).limit(1)
    )).first()
    last_seq, last_hash = (last.seq, last.hash or GENESIS_HASH) if last else (0, GENESIS_HASH)
    entry = signed_event_after(
        case_id=OVERSIGHT_CHAIN, last_seq=last_seq, last_hash=last_hash, type=event_type, at=at, stage_before=None,
        stage_after=OVERSIGHT_STAGE, payload=payload, signer=signer, actor=actor,
    )
    await conn.execute(insert(audit_events).values(**entry.model_dump()))
    return entry
