"""Storing and reading signed checkpoints (`domain.checkpoints`): the append-only tables and the checkpoint log.

A checkpoint is written to `audit_checkpoints` (with its heads in `audit_checkpoint_heads`) in one transaction,
then appended as one JSON line to the checkpoint log (`AUDIT_CHECKPOINT_LOG`, a file outside the database):
someone who can rewrite the database can still not reach what was already written there.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Select, exists, func, or_, select, text
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.checkpoints import Anchor, Checkpoint, Head, anchor_of, checkpoint_problem, make_checkpoint
from domain.signing import EVENT_CONTEXT, AuditKeys, Keyring
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


async def stored_heads(conn: AsyncConnection, checkpoint_id: int) -> list[Head]:
    rows = await conn.execute(
        select(audit_checkpoint_heads.c.case_id, audit_checkpoint_heads.c.seq, audit_checkpoint_heads.c.head_hash)
        .where(audit_checkpoint_heads.c.checkpoint_id == checkpoint_id).order_by(audit_checkpoint_heads.c.position)
    )
    return [stored_head(r.case_id, r.seq, r.head_hash) for r in rows]


async def stored_checkpoint(conn: AsyncConnection, checkpoint_id: int) -> Checkpoint:
    """The checkpoint stored as `checkpoint_id`. Its heads name it, but its owner may have deleted its row (having
    dropped the heads' foreign key) or stored a second row with its id (having dropped the primary key): either is
    read as a checkpoint of that id that does not hold (every column NULL: `checkpoint_of_row`), never a crash."""
    rows = (await conn.execute(select(audit_checkpoints).where(audit_checkpoints.c.id == checkpoint_id))).mappings()
    found = rows.all()
    if len(found) != 1:
        return checkpoint_of_row({column.name: None for column in audit_checkpoints.c} | {"id": checkpoint_id})
    return checkpoint_of_row(found[0])


NEVER_SIGNED = datetime(1, 1, 1, tzinfo=UTC)
"""The time a checkpoint row whose `at` its owner set NULL is read with: no checkpoint was ever signed then."""


def checkpoint_of_row(row: Mapping[Any, Any]) -> Checkpoint:
    """The checkpoint a stored row holds, read as stored. A column the table's owner set NULL (having dropped its
    NOT NULL) is read as a value no checkpoint is signed with — empty text, -1 cases, `NEVER_SIGNED` — so the row
    reads as a checkpoint that does not hold (`Checkpoint.problem`: altered), and every verifier says so of the
    cases it holds, instead of failing (a 500, a traceback) on the row."""
    def text(name: str) -> str:
        return "" if row[name] is None else str(row[name])

    return Checkpoint(id=row["id"] if row["id"] is not None else 0, at=row["at"] or NEVER_SIGNED,
                      cases=row["cases"] if row["cases"] is not None else -1, root=text("root"), prev=text("prev"),
                      digest=text("digest"), key_id=text("key_id"), signature=text("signature"),
                      verified=row["verified"] is True)


def stored_head(case_id: object, seq: int | None, head_hash: str | None) -> Head:
    """A head as a checkpoint's stored row holds it; a column set NULL is read as a head no checkpoint holds (seq 0,
    empty text), so the checkpoint's root does not come out of its heads (`checkpoint_problem`)."""
    return Head(case_id="" if case_id is None else str(case_id), seq=0 if seq is None else seq,
                head_hash=head_hash or "")


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


def unreadable_log(path: Path, error: OSError) -> str:
    """Why the checkpoint log at `path`, which is there, could not be read (`error`: a folder, no permission)."""
    return f"the checkpoint log {path} cannot be read ({error.strerror or error})"


async def log_contradictions(engine: AsyncEngine, path: Path, keyring: Keyring) -> list[str]:
    """Where the checkpoint log and the checkpoint table disagree: a logged checkpoint whose line is altered or
    badly signed, that no longer chains to the line before, or that the table lacks or holds otherwise (rows
    deleted or rewritten by someone who can write the database). Empty when they agree or there is no log."""
    try:
        lines = (await asyncio.to_thread(path.read_bytes)).splitlines()
    except FileNotFoundError:
        return []
    except OSError as error:  # there, but not to be read (a folder, no permission): no agreement can be seen
        return [unreadable_log(path, error)]
    problems: list[str] = []
    prev = None
    async with engine.connect() as conn:
        stored = {checkpoint.id: checkpoint for checkpoint in
                  (checkpoint_of_row(row._mapping) for row in await conn.execute(select(audit_checkpoints)))}
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
