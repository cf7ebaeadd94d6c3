"""Storing signed checkpoints (`domain.checkpoints`): the append-only tables and the checkpoint log; reading them
back is `infra.stored_checkpoints`'s.

A checkpoint is written to `audit_checkpoints` (with its heads in `audit_checkpoint_heads`) in one transaction,
then appended as one JSON line to the checkpoint log (`AUDIT_CHECKPOINT_LOG`, a file outside the database):
someone who can rewrite the database can still not reach what was already written there.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Select, exists, func, or_, select, text
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.checkpoints import Checkpoint, Head, make_checkpoint
from domain.signing import EVENT_CONTEXT, AuditKeys, Keyring
from infra.audit_tables import audit_checkpoint_heads, audit_checkpoints
from infra.checkpoint_sink import deliver, undelivered
from infra.stored_checkpoints import stored_checkpoint
from infra.tables import audit_events

log = structlog.get_logger(__name__)
HEADS_PER_INSERT = 5_000
LOCK = "audit-checkpoint"


async def take_checkpoint(engine: AsyncEngine, keys: AuditKeys, log_path: Path | None, now: datetime, *,
                          url: str | None = None, verified: list[Head] | None = None) -> Checkpoint:
    """Sign a checkpoint over every case's current head — or, as a `verified` checkpoint, over the heads a
    verification has just found intact (`verified`) — store it, then append it to `log_path` (None: no log)
    and send it to `url` (`infra.checkpoint_sink`: tried a few times; not delivered, it is an incident).

    A checkpoint never newly holds an event it cannot vouch for (an unsigned one it holds is valid:
    `domain.checkpoints.unheld`): over the current heads, it leaves out a case whose head's signature does not
    hold (`signed_heads`). Only `anchor_legacy_trail` (once, at a worker's start) and an operator's
    `infra.unsigned_trails.anchor_unsigned_trails` hold unsigned heads.

    One at a time (an advisory lock), so ids and `prev` form one chain. Raises OSError when the log cannot be
    written (the checkpoint is stored all the same; the next one is logged with its `prev`).
    """
    async def heads(conn: AsyncConnection) -> list[Head]:
        if verified is not None:
            return sorted(verified, key=lambda head: head.case_id)
        return await signed_heads(conn, keys.keyring)

    checkpoint = await take_checkpoint_over(engine, keys, log_path, now, url, heads, verified=verified is not None)
    assert checkpoint is not None
    return checkpoint


async def anchor_legacy_trail(engine: AsyncEngine, keys: AuditKeys, log_path: Path | None, now: datetime, *,
                              url: str | None = None) -> Checkpoint | None:
    """The first checkpoint of a deployment whose events were recorded before events were signed: it holds
    every case's head, unsigned ones too, so those events stay valid (`domain.checkpoints.unheld`). Taken (a
    worker calls this as it starts) only while there is no checkpoint yet and no event anywhere is signed: once
    one is, an unsigned event can be a signed one stripped, and a checkpoint must not hold it — so deleting the
    checkpoints then does not get stripped events anchored again (README, "For auditors"). None when not taken."""
    async def heads(conn: AsyncConnection) -> list[Head] | None:
        if await conn.scalar(select(audit_checkpoints.c.id).limit(1)) is not None:
            return None
        if await conn.scalar(select(exists().where(or_(audit_events.c.signature.is_not(None),
                                                       audit_events.c.key_id.is_not(None))))):
            return None
        found = await every_head(conn)
        return found or None

    checkpoint = await take_checkpoint_over(engine, keys, log_path, now, url, heads, verified=False)
    if checkpoint is not None:
        log.warning("audit events from before signing anchored by a first checkpoint", checkpoint=checkpoint.id,
                    cases=checkpoint.cases)
    return checkpoint


def last_events() -> Select[tuple[Any, ...]]:
    """Each case's last stored event (case_id, seq, hash, key_id, signature): a statement to select from."""
    # A row whose seq or hash its owner set NULL is no head (nor anything to anchor): the one before it is
    # anchored, and the trail breaks after it for every verifier.
    return (select(audit_events.c.case_id, audit_events.c.seq, audit_events.c.hash, audit_events.c.key_id,
                   audit_events.c.signature)
            .where(audit_events.c.seq.is_not(None), audit_events.c.hash.is_not(None),
                   audit_events.c.case_id.is_not(None))
            .ext(distinct_on(audit_events.c.case_id)).order_by(audit_events.c.case_id, audit_events.c.seq.desc()))


async def every_head(conn: AsyncConnection) -> list[Head]:
    """Every case's head, by case id."""
    rows = await conn.execute(last_events())
    return [Head(case_id=str(row.case_id), seq=row.seq, head_hash=row.hash) for row in rows]


async def signed_heads(conn: AsyncConnection, keyring: Keyring) -> list[Head]:
    """Every case's head, by case id, but those a checkpoint must not newly hold: a head whose signature does not
    hold under `keyring` (unsigned, or a forger's: held, then stripped with the events before it, it would pass
    for a trail from before signing).

    A head whose signature holds pins every event before it (each hash is in the next one's `prev_hash`, and the
    recording step chains onto the workflow's last hash, never the table's), so its trail is held even where the
    table's owner stripped the signatures of earlier events: their words are the Case Desk's. Leaving such trails
    out let a stripped event 1 keep a case out of every later checkpoint, and its tail could then be cut unseen.
    """
    last = last_events().subquery()
    rows = (await conn.execute(
        select(last.c.case_id, last.c.seq, last.c.hash, last.c.key_id, last.c.signature)
        .where(or_(last.c.signature.is_not(None), last.c.key_id.is_not(None)))
        .order_by(last.c.case_id)
    )).all()
    problems = keyring.check_all(EVENT_CONTEXT, [(row.hash, row.key_id, row.signature) for row in rows])
    for row, problem in zip(rows, problems, strict=True):
        if problem is not None:
            log.error("a case's head does not hold its signature: no checkpoint holds it", case_id=str(row.case_id),
                      seq=row.seq, problem=problem)
    return [Head(case_id=str(row.case_id), seq=row.seq, head_hash=row.hash)
            for row, problem in zip(rows, problems, strict=True) if problem is None]


async def take_checkpoint_over(
    engine: AsyncEngine, keys: AuditKeys, log_path: Path | None, now: datetime, url: str | None,
    choose: Callable[[AsyncConnection], Awaitable[list[Head] | None]], *, verified: bool,
    then: Callable[[AsyncConnection, Checkpoint], Awaitable[None]] | None = None,
) -> Checkpoint | None:
    """Sign, store, log and send a checkpoint over the heads `choose` gives (under the lock, in the transaction
    that stores it; None: no checkpoint); `then` writes what goes with it in that same transaction."""
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:lock))"), {"lock": LOCK})
        heads = await choose(conn)
        if heads is None:
            return None
        last = (await conn.execute(
            select(audit_checkpoints.c.id, audit_checkpoints.c.digest).order_by(audit_checkpoints.c.id.desc()).limit(1)
        )).first()
        # after every id its heads name too: a row its owner deleted (its heads kept) leaves its id taken
        named = await conn.scalar(select(func.max(audit_checkpoint_heads.c.checkpoint_id)))
        checkpoint = make_checkpoint(max(last.id if last else 0, named or 0) + 1, now, heads,
                                     last.digest if last else None, keys.signer, verified=verified)
        await conn.execute(insert(audit_checkpoints).values(**checkpoint.model_dump()))
        rows = [{"checkpoint_id": checkpoint.id, "position": n, **head.model_dump()} for n, head in enumerate(heads)]
        for start in range(0, len(rows), HEADS_PER_INSERT):
            await conn.execute(insert(audit_checkpoint_heads).values(rows[start:start + HEADS_PER_INSERT]))
        if then is not None:
            await then(conn, checkpoint)
    try:
        if log_path is not None:
            await asyncio.to_thread(append_to_log, log_path, checkpoint)
    finally:
        if url is not None:
            await deliver(engine, url, checkpoint, log_line(checkpoint))
    log.info("audit checkpoint taken", checkpoint=checkpoint.id, cases=checkpoint.cases, root=checkpoint.root)
    return checkpoint


def log_line(checkpoint: Checkpoint) -> str:
    return json.dumps(checkpoint.model_dump(mode="json"), sort_keys=True, separators=(",", ":")) + "\n"


def append_to_log(path: Path, checkpoint: Checkpoint) -> None:
    """Append the checkpoint as one JSON line (opened for appending only, flushed to disk)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as file:
        file.write(log_line(checkpoint))
        file.flush()


async def send_undelivered(engine: AsyncEngine, url: str) -> AsyncIterator[tuple[Checkpoint, str | None]]:
    """`deliver` each checkpoint `url` has not received, oldest first: each with None once delivered, or why
    not. Stops after the first not delivered (a target that is down would cost every later one its tries);
    the rest wait for the next run."""
    for checkpoint_id in await undelivered(engine, url):
        async with engine.connect() as conn:
            checkpoint = await stored_checkpoint(conn, checkpoint_id)
        problem = await deliver(engine, url, checkpoint, log_line(checkpoint))
        yield checkpoint, problem
        if problem is not None:
            return
