"""Anchoring, by an operator's decision, trails recorded before events were signed (`alliance audit
anchor-unsigned`).

An unsigned event counts only as far as a signed checkpoint holds it (`domain.checkpoints.unheld`). A worker
anchors such events by itself only in a deployment where nothing is signed and no checkpoint exists yet
(`infra.checkpoints.anchor_legacy_trail`). A deployment upgraded after it had started signing, or whose first
anchor missed a trail, is left with unsigned trails no checkpoint holds: every verifier calls them broken at
their first unheld event, rightly, since the database alone cannot tell an event from before signing from a
signed one stripped. Only a person can say which they are; this is how they say it, on the record:

- only trails whose head is unsigned, that no checkpoint holds as far as their head, and that hold by themselves
  (links and hashes intact, and agreeing with any checkpoint that holds part of them) are anchored; any other is
  named and left broken; none is anchored while a checkpoint may be missing from the database (the checkpoint log
  holds one it lacks or holds otherwise, or its checkpoints do not chain) or one holding a case is damaged (its
  heads do not give its root): a trail that checkpoint held may have been rewritten since;
- they are held by one new checkpoint (signed, stored, appended to the checkpoint log, sent where checkpoints go);
- in the same transaction the oversight chain records who anchored them, why, and the checkpoint's id: an
  auditor reading that chain sees every anchoring, by whom and why, and the checkpoint it names says which
  trails (its heads, in the database; the checkpoint log has its root and count, no case id nor name).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.audit import GENESIS_HASH
from domain.checkpoints import UNHELD, Checkpoint, Head, anchored
from domain.model import OPERATOR, Actor, Role
from domain.signing import AuditKeys, Keyring
from infra.audit_tables import audit_checkpoints
from infra.audit_trail import case_rows
from infra.chain_verdicts import own_verdict
from infra.checkpoints import last_events, take_checkpoint_over
from infra.db import session_factory
from infra.oversight import append_to_oversight
from infra.stored_checkpoints import checkpoint_of_row, latest_anchors, unreadable_log

ANCHORED_EVENT = "unsigned_trails_anchored"
"""The oversight chain's event naming who anchored unsigned trails, why, and by which checkpoint."""
HELD = text("SELECT DISTINCT h.case_id::text FROM audit_checkpoint_heads h JOIN unnest(CAST(:ids AS uuid[]), "
            "CAST(:seqs AS integer[]), CAST(:hashes AS text[])) AS a(case_id, seq, head_hash) "
            "ON h.case_id = a.case_id AND h.seq = a.seq AND h.head_hash = a.head_hash")
"""Which of the given heads (three arrays: one parameter each, however many) a checkpoint holds already."""


@dataclass
class Anchoring:
    """The unsigned trails no checkpoint holds: those that hold by themselves (`anchor`, their heads) and the rest
    (`refused`: case id and why); `checkpoint`: the one that now holds `anchor`, once taken (`anchor` is then the
    heads it holds: one that moved since the survey is left out)."""

    anchor: list[Head] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    checkpoint: Checkpoint | None = None


def operator(name: str) -> Actor:
    """The person running the command, as the oversight chain names them (an operator of the deployment)."""
    return Actor(id=f"operator:{name}", name=name, role=Role.ADMIN, org=OPERATOR)


async def unsigned_heads(conn: AsyncConnection) -> dict[str, Head]:
    """Every case's head that carries no signature at all, by case id."""
    last = last_events().subquery()
    rows = await conn.execute(select(last.c.case_id, last.c.seq, last.c.hash)
                              .where(last.c.signature.is_(None), last.c.key_id.is_(None)))
    return {str(row.case_id): Head(case_id=str(row.case_id), seq=row.seq, head_hash=row.hash) for row in rows}


async def checkpoints_in_doubt(engine: AsyncEngine, keyring: Keyring, log_path: Path | None) -> list[str]:
    """Why a checkpoint may be missing from (or altered in) the database: one the checkpoint log holds (its line
    signed) that the table lacks or holds otherwise, or the table's checkpoints do not run 1, 2, 3… each chained
    (`prev`) to the one before. A trail such a checkpoint held is unheld now, and may have been rewritten since:
    while any is found (or the log cannot be read), nothing is anchored. A line missing from the log (its write
    failed once) or damaged is no sign of that, and stays `alliance audit verify`'s to report: it would otherwise
    stop every anchoring for good, the log being append-only."""
    problems: list[str] = []
    async with engine.connect() as conn:
        stored = {checkpoint.id: checkpoint for checkpoint in (checkpoint_of_row(row._mapping) for row in
                  await conn.execute(select(audit_checkpoints).order_by(audit_checkpoints.c.id)))}
    if log_path is not None:
        try:
            lines = (await asyncio.to_thread(log_path.read_bytes)).splitlines()
        except FileNotFoundError:
            lines = []
        except OSError as error:  # not the caller's "stored, not logged": nothing is stored yet
            return [unreadable_log(log_path, error)]
        for number, line in enumerate(lines, start=1):
            try:
                logged = Checkpoint.model_validate_json(line.decode("utf-8"))
            except ValueError:  # UnicodeDecodeError too
                continue
            if logged.problem(keyring) is None and stored.get(logged.id) != logged:
                problems.append(f"the checkpoint log's line {number}, {logged.name}, is "
                                + ("not in the database" if logged.id not in stored else "not the database's"))
    prev = GENESIS_HASH
    for expected, checkpoint in enumerate(stored.values(), start=1):
        if checkpoint.id != expected or checkpoint.prev != prev:
            problems.append(f"checkpoint {checkpoint.id} does not chain to checkpoint {expected - 1} in the database: "
                            "a checkpoint is missing")
            break
        prev = checkpoint.digest
    return problems


async def survey(engine: AsyncEngine, keys: AuditKeys, log_path: Path | None = None) -> Anchoring:
    """Which unsigned heads no checkpoint holds, and which of their trails hold by themselves (nothing written);
    none of them does while a checkpoint may be missing (`checkpoints_in_doubt`, with the checkpoint log at
    `log_path`) or a checkpoint holding any case does not hold itself (its heads, its signature)."""
    anchors = await latest_anchors(engine, keys.keyring)
    async with engine.connect() as conn:
        heads = await unsigned_heads(conn)
    found = Anchoring()
    sessions = session_factory(engine)
    for case_id, head in sorted(heads.items()):
        anchor = anchors.get(case_id)
        if anchor is not None and anchor.problem is None and anchor.head == head:
            continue  # held already, as far as its head
        # A checkpoint holding it further, or another event at its head's seq, is no hold but a contradiction
        # (events removed, the trail rewritten): named below with every verifier's reason, never passed over.
        rows = await case_rows(sessions, case_id)
        own, hashes = own_verdict(case_id, rows, keys.keyring)
        verdict = anchored(own, hashes, anchor) if own.valid else own
        whole = len(hashes) == head.seq and hashes[-1:] == [head.head_hash]
        if own.valid and whole and (verdict.valid or verdict.reason == UNHELD):
            found.anchor.append(head)
        elif own.valid and (verdict.valid or verdict.reason == UNHELD):  # not `whole`
            found.refused.append((case_id, "its head moved while it was read: run the command again"))
        else:
            found.refused.append((case_id, f"event {verdict.first_broken_seq}: {verdict.reason}"))
    # A checkpoint whose stored heads do not give its root may have held one of these trails (its head row
    # deleted): it is seen only through the cases it is the latest anchor of, and none of these is anchored then.
    damaged = sorted({anchor.problem for anchor in anchors.values() if anchor.problem is not None})
    if found.anchor and (doubts := damaged or await checkpoints_in_doubt(engine, keys.keyring, log_path)):
        why = (f"a checkpoint that held it may have been removed or altered ({doubts[0]}; `alliance audit verify` "
               "names every broken trail and contradiction with the checkpoint log): nothing is anchored while one "
               "is found")
        found.refused = sorted([*found.refused, *((head.case_id, why) for head in found.anchor)])
        found.anchor = []
    return found


async def anchor_unsigned_trails(engine: AsyncEngine, keys: AuditKeys, log_path: Path | None, now: datetime, *,
                                 by: str, reason: str, url: str | None = None) -> Anchoring:
    """`survey`, then hold the trails that hold by themselves with one checkpoint (those whose head has not moved
    since), recording `by` and `reason` on the oversight chain with it. Raises OSError as `take_checkpoint` does
    (stored, not logged)."""
    found = await survey(engine, keys, log_path)
    if not found.anchor:
        return found

    async def still_unsigned(conn: AsyncConnection) -> list[Head] | None:
        # under the checkpoints' lock: a head that moved since the survey, or that a checkpoint taken meanwhile
        # holds (another operator's run), is left out
        current = await unsigned_heads(conn)
        held = set((await conn.execute(HELD, {"ids": [h.case_id for h in found.anchor],
                                              "seqs": [h.seq for h in found.anchor],
                                              "hashes": [h.head_hash for h in found.anchor]})).scalars())
        found.anchor = [head for head in found.anchor if current.get(head.case_id) == head
                        and head.case_id not in held]  # those it holds
        return found.anchor or None

    async def record(conn: AsyncConnection, checkpoint: Checkpoint) -> None:
        payload = {"by": by, "reason": reason, "checkpoint": checkpoint.id, "cases": checkpoint.cases,
                   "left_broken": len(found.refused)}
        await append_to_oversight(conn, ANCHORED_EVENT, payload, operator(by), now, keys.signer)

    found.checkpoint = await take_checkpoint_over(engine, keys, log_path, now, url, still_unsigned, verified=False,
                                                  then=record)
    return found
