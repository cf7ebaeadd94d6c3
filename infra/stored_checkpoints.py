"""Reading signed checkpoints back (`domain.checkpoints`): a checkpoint and its heads as stored, each case's anchor
(the latest checkpoint holding its head), and where the checkpoint log and the table disagree.

A row no checkpoint step writes is read as a checkpoint that does not hold, never a crash.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.checkpoints import Anchor, Checkpoint, Head, anchor_of, checkpoint_problem
from domain.signing import Keyring
from infra.audit_tables import audit_checkpoint_heads, audit_checkpoints


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
