"""Every case's chain verified in one streamed pass over the whole trail: one COPY, signatures checked by threads.

Each case gets the verdict `infra.chain_verdicts` gives one case, in constant memory however large the trail.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncGenerator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.chain_rows import Canonical
from domain.chain_verification import ChainReport, settle
from domain.checkpoints import Anchor, Head, anchored
from domain.signing import EVENT_CONTEXT, Keyring
from domain.stored_rows import ROW_COLUMNS, Row, copy_row
from infra.audit_trail import read_snapshot
from infra.chain_verdicts import Draft, draft_of

_ON_RECORD_WITHOUT_EVENTS = ("SELECT c.id::text FROM cases c WHERE NOT EXISTS "
                             "(SELECT 1 FROM audit_events e WHERE e.case_id = c.id) ORDER BY c.id")
SIGNATURE_THREADS = max(1, os.cpu_count() or 1)
"""Threads checking signatures while the main thread reads and hashes (Ed25519 runs without Python's lock)."""
_EVERY_EVENT = f"SELECT {ROW_COLUMNS} FROM audit_events ORDER BY case_id, seq"  # for COPY … TO STDOUT
_CHUNKS_AHEAD = 64
"""COPY's chunks (some 10 kB each) read ahead of the hashing: the server works on while this process hashes."""


async def _copy_lines(driver: Any, query: str, lines: asyncio.Queue[list[bytes] | None]) -> None:
    """`query`'s COPY output, whole lines at a time, into `lines`; None after the last."""
    rest = b""

    async def sink(chunk: bytes) -> None:
        nonlocal rest
        *whole, rest = (rest + bytes(chunk)).split(b"\n")
        if whole:
            await lines.put(whole)

    try:
        await driver.copy_from_query(query, output=sink)
    except Exception:
        await lines.put(None)  # the reader wakes, and finds the error in this task
        raise
    await lines.put(None)


async def _every_case(sessions: async_sessionmaker[AsyncSession], rows_per_fetch: int,
                      ) -> AsyncGenerator[list[tuple[str, list[Row]]], None]:
    """Every case's events as COPY rows (`domain.stored_rows`), from one COPY ordered by (case_id, seq) in one
    repeatable-read snapshot: after some `rows_per_fetch` rows, the cases they completed; then, from the same
    snapshot, each case on record with no event at all (no row), and rows whose case_id is NULL (no recording step
    writes one; their own "case", `NO_CASE`), which sort last."""
    current: bytes | None = None
    rows: list[Row] = []
    done: list[tuple[str, list[Row]]] = []
    count = 0
    async with read_snapshot(sessions) as driver:
        lines: asyncio.Queue[list[bytes] | None] = asyncio.Queue(_CHUNKS_AHEAD)
        copying = asyncio.create_task(_copy_lines(driver, _EVERY_EVENT, lines))
        try:
            while (batch := await lines.get()) is not None:
                for line in batch:
                    row = copy_row(line)
                    if row[0] != current or not rows:
                        if rows:
                            done.append((_case_of(current), rows))
                        current, rows = row[0], []
                    rows.append(row)
                count += len(batch)
                if count >= rows_per_fetch and done:
                    yield done
                    done, count = [], 0
            await copying
        finally:
            if not copying.done():
                copying.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await copying
        if rows:
            done.append((_case_of(current), rows))
        # in the same snapshot: a case on record whose every event is gone (filing writes both at once)
        done.extend((str(record["id"]), []) for record in await driver.fetch(_ON_RECORD_WITHOUT_EVENTS))
    if done:
        yield done


NO_CASE = "(rows whose case_id is NULL)"
"""What the whole-trail verifier names rows of no case by (a case id, in its reports)."""


def _case_of(case_id: bytes | None) -> str:
    return NO_CASE if case_id is None else case_id.decode()



@dataclass
class _Batch:
    """The cases of one fetch, their chains checked but for the signatures, which threads are checking."""

    drafts: list[Draft]
    results: list[asyncio.Future[list[str | None]]]

    @classmethod
    def start(cls, cases: list[tuple[str, list[Row]]], keyring: Keyring, pool: ThreadPoolExecutor,
              parts: int, starts: dict[str, Anchor], every: bool) -> _Batch:
        canonical = Canonical()
        drafts = [draft_of(case_id, rows, starts.get(case_id), every, canonical) for case_id, rows in cases]
        items = [(hash_, key_id, sig) for draft in drafts for _, hash_, key_id, sig in draft.todo]
        size = -(-len(items) // parts) or 1
        return cls(drafts, [asyncio.wrap_future(pool.submit(keyring.check_all, EVENT_CONTEXT, items[n:n + size]))
                            for n in range(0, len(items), size)])

    async def reports(self, anchors: dict[str, Anchor], heads: list[Head] | None,
                      keyring: Keyring) -> list[tuple[str, ChainReport]]:
        problems = [problem for part in await asyncio.gather(*self.results) for problem in part]
        found, used = [], 0
        for draft in self.drafts:
            settled = settle(draft.quick, draft.todo, problems[used:used + len(draft.todo)])
            used += len(draft.todo)
            if not settled.valid and len(draft.todo) < len(draft.checks):  # the head does not vouch: each event
                settled = settle(draft.report, draft.checks, await asyncio.to_thread(
                    keyring.check_all, EVENT_CONTEXT, [(h, k, s) for _, h, k, s in draft.checks]))
            settled = anchored(settled, draft.hashes, anchors.get(draft.case_id))
            found.append((draft.case_id, settled))
            if heads is not None and settled.valid and draft.hashes:  # intact: its seqs run 1 to its length
                heads.append(Head(case_id=draft.case_id, seq=len(draft.hashes), head_hash=draft.hashes[-1]))
        return found



async def verify_every_chain(
    sessions: async_sessionmaker[AsyncSession], keyring: Keyring, anchors: dict[str, Anchor] | None = None, *,
    starts: dict[str, Anchor] | None = None, heads: list[Head] | None = None,
    every_signature: bool = True, rows_per_fetch: int = 20_000, threads: int = SIGNATURE_THREADS,
) -> AsyncGenerator[tuple[str, ChainReport], None]:
    """Every case's chain checked from one COPY ordered by (case_id, seq), case by case, each
    against its head in the latest checkpoint (`anchors`, by case id: `infra.stored_checkpoints.latest_anchors`).

    The same verdicts as `stored_entries` + `verify_chain` + `anchored` per case, without a query per case,
    and in constant memory: only the cases of the last few batches are held, however large the trail. Each
    event's signature is checked once, by `threads` threads in bulk while the next batch is read and hashed —
    or, not `every_signature`, only each case's head's, which vouches for the chain before it (`by_head`; a
    case whose head does not hold is then checked event by event, so a forged event is named at its seq).
    A case the checkpoint holds but the trail no longer has at all is reported last; a case on record that neither
    holds is broken at event 1 (`NO_EVENTS`).

    `starts` (by case id: the latest verified checkpoint holding it, whose signature and root hold) spare the
    signatures verified before: a case's events up to the head its verified checkpoint holds are still read,
    linked and hashed up to that head (so they are the very events verified then), but only the signatures
    after it are checked (a full verification, without `starts`, checks every one). `heads` collects each
    intact chain's head, for the next verified checkpoint.
    """
    anchors, starts = anchors or {}, {case_id: a for case_id, a in (starts or {}).items() if a.problem is None}
    seen: set[str] = set()
    with ThreadPoolExecutor(threads, thread_name_prefix="audit-signatures") as pool:
        async for every in _every_case(sessions, rows_per_fetch):
            # a case on record without events that a checkpoint holds: the checkpoint names what is gone (below)
            cases = [(case_id, rows) for case_id, rows in every if rows or case_id not in anchors]
            seen.update(case_id for case_id, _ in cases)
            # A batch's signatures are awaited before the next batch is hashed: threads that check while this
            # one hashes wait for Python's lock after each signature (as long as 5 ms), which halved the rate
            # of --every-signature once hashing stopped waiting for the server. COPY reads on meanwhile.
            batch = _Batch.start(cases, keyring, pool, threads, starts, every_signature)
            for found in await batch.reports(anchors, heads, keyring):
                yield found
    for case_id in sorted(anchors.keys() - seen):
        yield case_id, anchored(ChainReport(valid=True, events=0), [], anchors[case_id])
