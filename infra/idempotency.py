"""Idempotency-Keys as PostgreSQL remembers them (`idempotency_keys`), per caller, until they expire."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.idempotency import KeyClaim, KeyUse
from infra.tables import idempotency_keys as keys


def _use(row: object) -> KeyUse:
    return KeyUse(case_id=row.case_id, action=row.action, fingerprint=row.fingerprint, seq=row.seq)  # type: ignore[attr-defined]


async def claim_key(conn: AsyncConnection, claim: KeyClaim, case_id: str, action: str, seq: int) -> KeyUse | None:
    """Bind the key to this event, in the event's transaction: None when it is (now, or already) this event's;
    otherwise what the key was used for before (the caller must then not record the event)."""
    now = datetime.now(UTC)
    row = {"caller_id": claim.caller_id, "key": claim.key, "fingerprint": claim.fingerprint, "case_id": case_id,
           "action": action, "seq": seq, "created_at": now, "expires_at": claim.expires_at}
    written = await conn.execute(insert(keys).values(row).on_conflict_do_nothing().returning(keys.c.key))
    if written.first() is not None:
        return None
    where = (keys.c.caller_id == claim.caller_id) & (keys.c.key == claim.key)
    earlier = (await conn.execute(select(keys).where(where).with_for_update())).first()
    if earlier is None:  # forgotten between the two statements
        await conn.execute(insert(keys).values(row))
        return None
    if earlier.expires_at <= now:  # an expired key is a new key
        await conn.execute(update(keys).where(where).values(row))
        return None
    if earlier.case_id == case_id and earlier.seq == seq:
        return None
    return _use(earlier)


async def key_use(engine: AsyncEngine, caller_id: str, key: str) -> KeyUse | None:
    """What the caller's key was used for, unless it never was or has expired (one SELECT: an AUTOCOMMIT engine,
    `infra.db.autocommit`, spares it the BEGIN and ROLLBACK round trips)."""
    async with engine.connect() as conn:
        row = (await conn.execute(
            select(keys).where(keys.c.caller_id == caller_id, keys.c.key == key, keys.c.expires_at > datetime.now(UTC))
        )).first()
    return _use(row) if row is not None else None


async def forget_expired_keys(engine: AsyncEngine) -> int:
    """Forget the keys past their time; how many."""
    async with engine.begin() as conn:
        result = await conn.execute(delete(keys).where(keys.c.expires_at <= datetime.now(UTC)))
    return int(result.rowcount or 0)
