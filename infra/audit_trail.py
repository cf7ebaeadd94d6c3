"""Reading the stored audit trail back (for verification and history), and which of its events a case took
(`TAKEN`: not voided, `domain.voiding`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncGenerator, AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Numeric, and_, case, exists, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from domain import events
from domain.audit import NO_EVENTS, AuditEntry, ChainReport, SignatureCheck, by_head, settle
from domain.checkpoints import Anchor, Head, anchored
from domain.errors import Unreplayable
from domain.signing import EVENT_CONTEXT, Keyring
from domain.stored_rows import (
    ROW_COLUMNS,
    Canonical,
    DamagedRow,
    Row,
    audit_entry,
    copy_row,
    links,
    trail_entries,
)
from domain.verification import OVERSIGHT_CHAIN
from infra.tables import audit_events, cases

_ONE_CASE = f"SELECT {ROW_COLUMNS} FROM audit_events WHERE case_id = $1 ORDER BY seq"  # for COPY … TO STDOUT
_PRINTED_AS_ROWS = "SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'"
"""The settings `ROW_COLUMNS` prints times with (for the rest of the transaction, or savepoint, it runs in)."""
_ON_RECORD_WITHOUT_EVENTS = ("SELECT c.id::text FROM cases c WHERE NOT EXISTS "
                             "(SELECT 1 FROM audit_events e WHERE e.case_id = c.id) ORDER BY c.id")

_voiding = audit_events.alias("voiding")


def _voided_bound(key: str) -> ColumnElement[Any]:
    """A voiding's `from_seq` or `to_seq` (`domain.voiding`), or NULL when its owner made it no number."""
    value = _voiding.c.payload[key]
    return case((func.jsonb_typeof(value) == "number", value.astext.cast(Numeric)), else_=None)


TAKEN: ColumnElement[bool] = and_(
    audit_events.c.type != events.VOIDED,
    ~exists().where(_voiding.c.case_id == audit_events.c.case_id, _voiding.c.type == events.VOIDED,
                    _voiding.c.seq > audit_events.c.seq, _voided_bound("from_seq") <= audit_events.c.seq,
                    _voided_bound("to_seq") >= audit_events.c.seq),
)
"""An event of `audit_events` the case took: neither voided, as recorded in a workflow task that was lost, nor
the voiding itself (`domain.voiding`). Figures read the case as it went: the stages it really passed through."""


@contextlib.asynccontextmanager
async def _snapshot(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Any]:
    """The driver's connection in a read-only repeatable-read transaction, printing times as `ROW_COLUMNS` needs."""
    async with sessions() as session:
        driver = (await (await session.connection()).get_raw_connection()).driver_connection
        assert driver is not None
        async with driver.transaction(isolation="repeatable_read", readonly=True):
            await driver.execute(_PRINTED_AS_ROWS)
            yield driver


async def case_rows(sessions: async_sessionmaker[AsyncSession], case_id: str) -> list[Row]:
    """The case's stored events as COPY rows (`domain.stored_rows`), by seq: what every reader of one case's trail
    takes, as the whole-trail verifier takes every case's (a row's text, never the driver's decoding of it)."""
    async with _snapshot(sessions) as driver:
        return await _copied(driver, _ONE_CASE, case_id)


async def rows_in(conn: AsyncConnection, query: str, *args: object) -> list[Row]:
    """The rows of `query` (a SELECT of `ROW_COLUMNS` from audit_events, parameters `$1`…) as COPY rows, read in the
    caller's transaction (before its first statement, the driver has begun none yet: then in one of their own) —
    what a step that writes the trail reads of it (`domain.stored_rows` takes them as every other reader does). The
    time zone `ROW_COLUMNS` needs is set in a savepoint that is rolled back, so the rest of the caller's transaction
    runs with its own settings."""
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    reading = driver.transaction()
    await reading.start()
    try:
        await driver.execute(_PRINTED_AS_ROWS)
        return await _copied(driver, query, *args)
    finally:
        await reading.rollback()


async def _copied(driver: Any, query: str, *args: object) -> list[Row]:
    chunks: list[bytes] = []

    async def sink(chunk: bytes) -> None:
        chunks.append(bytes(chunk))

    await driver.copy_from_query(query, *args, output=sink)
    return [copy_row(line) for line in b"".join(chunks).split(b"\n") if line]


def _unreplayable(case_id: str, error: DamagedRow) -> Unreplayable:
    event = "an event whose seq is NULL" if error.seq is None else f"event {error.seq}"
    return Unreplayable(f"{event} of case {case_id} cannot be read back: {error.reason}")


async def stored_entries(sessions: async_sessionmaker[AsyncSession], case_id: str) -> list[AuditEntry]:
    """The case's stored events, by seq (none for a case without any); `Unreplayable`, naming the event, when a
    row holds no event (`domain.stored_rows.audit_entry`)."""
    try:
        return [audit_entry(row) for row in await case_rows(sessions, case_id)]
    except DamagedRow as error:
        raise _unreplayable(case_id, error) from None


async def trail_of(sessions: async_sessionmaker[AsyncSession], case_id: str) -> list[AuditEntry]:
    """The events of a case on record, to show or replay: `stored_entries`, and `Unreplayable` too for a trail
    whose seqs do not run 1, 2, 3… (an event missing, held twice or out of order) or that holds none."""
    try:
        return trail_entries(await case_rows(sessions, case_id))
    except DamagedRow as error:
        raise _unreplayable(case_id, error) from None


def case_verdict(case_id: str, rows: list[Row], keyring: Keyring, anchor: Anchor | None, *,
                 every_signature: bool = True) -> ChainReport:
    """One case's chain from its `case_rows`, as `verify_every_chain` judges it: links, hashes and signatures
    (every event's, or — not `every_signature` — its head's, and every event's when the head's fails), held against
    its latest checkpoint (`anchor`). A case on record with no row is broken at event 1 (`NO_EVENTS`), unless a
    checkpoint holds it (then the checkpoint names what is missing)."""
    if not rows:
        if anchor is None:
            return ChainReport(valid=False, events=0, first_broken_seq=1, reason=NO_EVENTS)
        return anchored(ChainReport(valid=True, events=0), [], anchor)
    return anchored(*own_verdict(case_id, rows, keyring, every_signature=every_signature), anchor)


def own_verdict(case_id: str, rows: list[Row], keyring: Keyring, *,
                every_signature: bool = True) -> tuple[ChainReport, list[str]]:
    """What a case's chain (its `case_rows`, at least one) says of itself, before any checkpoint is asked: links,
    hashes and signatures as `case_verdict` checks them (its unsigned first events counted, not judged); with
    the events' hashes, by seq."""
    draft = _draft(case_id, rows, None, every_signature, Canonical())
    settled = settle(draft.quick, draft.todo, keyring.check_all(EVENT_CONTEXT, _signatures(draft.todo)))
    if not settled.valid and len(draft.todo) < len(draft.checks):  # the head does not vouch: each event
        settled = settle(draft.report, draft.checks, keyring.check_all(EVENT_CONTEXT, _signatures(draft.checks)))
    return settled, draft.hashes


def _signatures(checks: list[SignatureCheck]) -> list[tuple[str, str | None, str | None]]:
    return [(hash_, key_id, signature) for _, hash_, key_id, signature in checks]


async def case_on_record(engine: AsyncEngine, case_id: str) -> bool:
    """Whether the read model holds the case (filed through the desk), whatever its trail holds."""
    async with engine.connect() as conn:
        return await conn.scalar(select(cases.c.id).where(cases.c.id == case_id)) is not None


async def case_ids(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    query = select(audit_events.c.case_id).distinct().order_by(audit_events.c.case_id)
    async with sessions() as session:
        return [str(case_id) for case_id in (await session.scalars(query)).all()]


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
    async with _snapshot(sessions) as driver:
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
class _Draft:
    """A case's chain checked but for its signatures: every one (`checks`) and those to check now (`todo`)."""

    case_id: str
    hashes: list[str]
    report: ChainReport
    checks: list[SignatureCheck]
    quick: ChainReport
    todo: list[SignatureCheck]


@dataclass
class _Batch:
    """The cases of one fetch, their chains checked but for the signatures, which threads are checking."""

    drafts: list[_Draft]
    results: list[asyncio.Future[list[str | None]]]

    @classmethod
    def start(cls, cases: list[tuple[str, list[Row]]], keyring: Keyring, pool: ThreadPoolExecutor,
              parts: int, starts: dict[str, Anchor], every: bool) -> _Batch:
        canonical = Canonical()
        drafts = [_draft(case_id, rows, starts.get(case_id), every, canonical) for case_id, rows in cases]
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


def _draft(case_id: str, rows: list[Row], start: Anchor | None, every: bool, canonical: Canonical) -> _Draft:
    """`chain_links` of a case's events, their signatures checked only after the head its latest verified
    checkpoint (`start`) holds; unless `every`, only the head's signature (`by_head`). The oversight chain is
    always checked event by event: its writer chains onto the stored head it reads (`activities.verification`).
    A case whose every event holds takes `quick_links`; any other, the exact path, which names its break."""
    through = None if start is None else (start.head.seq, start.head.head_hash)
    if rows:
        report, checks, hashes = links(rows, canonical, through)
    else:  # a case on record without any event (`_every_case`)
        report, checks, hashes = ChainReport(valid=False, events=0, first_broken_seq=1, reason=NO_EVENTS), [], []
    quick, todo = (report, checks) if every or case_id == OVERSIGHT_CHAIN else by_head(report, checks)
    return _Draft(case_id, hashes, report, checks, quick, todo)


async def verify_every_chain(
    sessions: async_sessionmaker[AsyncSession], keyring: Keyring, anchors: dict[str, Anchor] | None = None, *,
    starts: dict[str, Anchor] | None = None, heads: list[Head] | None = None,
    every_signature: bool = True, rows_per_fetch: int = 20_000, threads: int = SIGNATURE_THREADS,
) -> AsyncGenerator[tuple[str, ChainReport], None]:
    """Every case's chain checked from one COPY ordered by (case_id, seq), case by case, each
    against its head in the latest checkpoint (`anchors`, by case id: `infra.checkpoints.latest_anchors`).

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
