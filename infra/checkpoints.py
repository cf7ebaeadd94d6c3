"""Storing and reading signed checkpoints (`domain.checkpoints`): the append-only tables and the checkpoint log.

A checkpoint is written to `audit_checkpoints` (with its heads in `audit_checkpoint_heads`) in one transaction,
then appended as one JSON line to the checkpoint log (`AUDIT_CHECKPOINT_LOG`, a file outside the database):
someone who can rewrite the database can still not reach what was already written there.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import structlog
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.checkpoints import Anchor, Checkpoint, Head, anchor_of, checkpoint_problem, make_checkpoint
from domain.signing import AuditKeys, Keyring
from infra.checkpoint_sink import deliver, undelivered
from infra.tables import audit_checkpoint_heads, audit_checkpoints, audit_events

log = structlog.get_logger(__name__)
HEADS_PER_INSERT = 5_000
LOCK = "audit-checkpoint"


async def take_checkpoint(engine: AsyncEngine, keys: AuditKeys, log_path: Path | None, now: datetime, *,
                          url: str | None = None, verified: list[Head] | None = None) -> Checkpoint:
    """Sign a checkpoint over every case's current head — or, as a `verified` checkpoint, over the heads a
    verification has just found intact (`verified`) — store it, then append it to `log_path` (None: no log)
    and send it to `url` (`infra.checkpoint_sink`: tried a few times; not delivered, it is an incident).

    One at a time (an advisory lock), so ids and `prev` form one chain. Raises OSError when the log cannot be
    written (the checkpoint is stored all the same; the next one is logged with its `prev`).
    """
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:lock))"), {"lock": LOCK})
        last = (await conn.execute(
            select(audit_checkpoints.c.id, audit_checkpoints.c.digest).order_by(audit_checkpoints.c.id.desc()).limit(1)
        )).first()
        heads = sorted(verified, key=lambda head: head.case_id) if verified is not None else [
            Head(case_id=str(row.case_id), seq=row.seq, head_hash=row.hash) for row in (await conn.execute(
                select(audit_events.c.case_id, audit_events.c.seq, audit_events.c.hash)
                # a row whose seq or hash its owner set NULL is no head (nor anything to anchor): the one before it
                # is anchored, and the trail breaks after it for every verifier
                .where(audit_events.c.seq.is_not(None), audit_events.c.hash.is_not(None),
                       audit_events.c.case_id.is_not(None))
                .ext(distinct_on(audit_events.c.case_id)).order_by(audit_events.c.case_id, audit_events.c.seq.desc())
            ))
        ]
        checkpoint = make_checkpoint((last.id if last else 0) + 1, now, heads, last.digest if last else None,
                                     keys.signer, verified=verified is not None)
        await conn.execute(insert(audit_checkpoints).values(**checkpoint.model_dump()))
        rows = [{"checkpoint_id": checkpoint.id, "position": n, **head.model_dump()} for n, head in enumerate(heads)]
        for start in range(0, len(rows), HEADS_PER_INSERT):
            await conn.execute(insert(audit_checkpoint_heads).values(rows[start:start + HEADS_PER_INSERT]))
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


async def stored_heads(conn: AsyncConnection, checkpoint_id: int) -> list[Head]:
    rows = await conn.execute(
        select(audit_checkpoint_heads.c.case_id, audit_checkpoint_heads.c.seq, audit_checkpoint_heads.c.head_hash)
        .where(audit_checkpoint_heads.c.checkpoint_id == checkpoint_id).order_by(audit_checkpoint_heads.c.position)
    )
    return [Head(case_id=str(r.case_id), seq=r.seq, head_hash=r.head_hash) for r in rows]


async def stored_checkpoint(conn: AsyncConnection, checkpoint_id: int) -> Checkpoint:
    row = (await conn.execute(select(audit_checkpoints).where(audit_checkpoints.c.id == checkpoint_id))).mappings()
    return Checkpoint.model_validate(dict(row.one()))


async def case_anchor(engine: AsyncEngine, case_id: str, keyring: Keyring) -> Anchor | None:
    """The checkpoint holding the furthest head of `case_id` (the latest of those), checked (signature, root
    over its heads); None before any. The furthest, not the latest: a checkpoint taken after the tail was cut
    holds the shorter trail, and must not make the cut disappear."""
    async with engine.connect() as conn:
        furthest = await conn.scalar(
            select(audit_checkpoint_heads.c.checkpoint_id).where(audit_checkpoint_heads.c.case_id == case_id)
            .order_by(audit_checkpoint_heads.c.seq.desc(), audit_checkpoint_heads.c.checkpoint_id.desc()).limit(1)
        )
        if furthest is None:
            return None
        return anchor_of(await stored_checkpoint(conn, furthest), await stored_heads(conn, furthest), case_id,
                         keyring)


async def latest_anchors(engine: AsyncEngine, keyring: Keyring, *, verified: bool = False) -> dict[str, Anchor]:
    """Every case's anchor, by case id: the checkpoint holding its furthest head (as `case_anchor`); with
    `verified`, only verified checkpoints count (where a verification may start)."""
    furthest = (
        select(audit_checkpoint_heads.c.case_id, audit_checkpoint_heads.c.checkpoint_id)
        .ext(distinct_on(audit_checkpoint_heads.c.case_id))
        .order_by(audit_checkpoint_heads.c.case_id, audit_checkpoint_heads.c.seq.desc(),
                  audit_checkpoint_heads.c.checkpoint_id.desc())
    )
    if verified:
        furthest = furthest.where(audit_checkpoint_heads.c.checkpoint_id.in_(
            select(audit_checkpoints.c.id).where(audit_checkpoints.c.verified)))
    anchors: dict[str, Anchor] = {}
    async with engine.connect() as conn:
        wanted: dict[int, list[str]] = {}
        for row in await conn.execute(furthest):
            wanted.setdefault(row.checkpoint_id, []).append(str(row.case_id))
        for checkpoint_id, case_ids in wanted.items():
            checkpoint, heads = await stored_checkpoint(conn, checkpoint_id), await stored_heads(conn, checkpoint_id)
            problem = checkpoint_problem(checkpoint, heads, keyring)
            by_case = {head.case_id: head for head in heads}
            for case_id in case_ids:
                anchors[case_id] = Anchor(checkpoint=checkpoint, head=by_case[case_id], problem=problem)
    return anchors


async def log_contradictions(engine: AsyncEngine, path: Path, keyring: Keyring) -> list[str]:
    """Where the checkpoint log and the checkpoint table disagree: a logged checkpoint whose line is altered or
    badly signed, that no longer chains to the line before, or that the table lacks or holds otherwise (rows
    deleted or rewritten by someone who can write the database). Empty when they agree or there is no log."""
    try:
        lines = (await asyncio.to_thread(path.read_bytes)).splitlines()
    except FileNotFoundError:
        return []
    problems: list[str] = []
    prev = None
    async with engine.connect() as conn:
        stored = {row.id: Checkpoint.model_validate(dict(row._mapping))
                  for row in await conn.execute(select(audit_checkpoints))}
    for number, line in enumerate(lines, start=1):
        where = f"{path} line {number}"
        try:
            logged = Checkpoint.model_validate_json(line.decode("utf-8"))
        except UnicodeDecodeError as error:
            problems.append(f"{where}: damaged: not UTF-8 (byte {error.start + 1} of the line)")
            continue
        except ValueError:
            problems.append(f"{where}: not a checkpoint")
            continue
        if (why := logged.problem(keyring)) is not None:
            problems.append(f"{where}: {why}")
        elif prev is not None and logged.prev != prev:
            problems.append(f"{where}: {logged.name} does not chain to the line before: a checkpoint is missing")
        elif logged.id not in stored:
            problems.append(f"{where}: {logged.name} is in the checkpoint log but not in the database")
        elif stored[logged.id] != logged:
            problems.append(f"{where}: {logged.name} differs from the database's")
        prev = logged.digest
    return problems


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
