"""Loading millions of SMEs at once: one streamed COPY, with the registry's indexes built after the rows are in.

`store_smes` (imports) writes through a staging table into a registry that stays indexed throughout, which is
right for thousands of rows and costs about 40 µs of server time per row with every index kept up to date. A
seed of millions of rows follows PostgreSQL's own advice for populating a database instead: when it at least
doubles the registry, the secondary indexes are dropped inside the transaction and built again, each in one
sorted pass, after the last row (the registry is locked for the transaction, which only a seed does).

The rows go straight into `smes` in one COPY (text, written by `infra.copy_text`) that streams while they are
generated, so PostgreSQL stores (and computes the generated text-search columns of) one piece while Python
makes the next. SMEs already registered
are kept: their numbers are read first and left out of the stream (the registry is locked against other
writers meanwhile). A registry too large to hold its numbers in memory (`DIRECT_UP_TO`) takes the old way,
COPY into a staging table in chunks and `INSERT … ON CONFLICT DO NOTHING` from there.

Where a seed's time goes (December 2026, the shared two-core machine, CPU time per row of 300,000 and 1,000,000
generated rows): Python makes a row in 11-15 µs and writes its COPY text in 8-10, about 38 µs in all in the seed's
process; the server's COPY takes 5 µs for the bare row, 7 more for the primary key, 14 for the generated `search`
(`to_tsvector`) and 26-28 for `match_terms` (its own `to_tsvector` and the prefixed words; 21-24 since migration
0034), 52-54 in all (47-50 since). The two overlap, so the COPY is bound by the server near 18,000-20,000 rows/s
even on an idle machine; the indexes rebuilt after it then take 25 µs a row of wall time at 300,000 rows (65 at
1,000,000 on the busy machine), with parallel workers; the GIN index of `match_terms` (some 40 terms a row) is most
of it. Neither a bigger `maintenance_work_mem` (512 MB → 1-2 GB) nor building the primary key after the rows (7 µs
less per row in COPY, 5 more in the rebuild) changed that measurably. The rates printed are those of the COPY
pieces; the rebuild follows the last.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from itertools import islice
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.copy_text import copy_writer
from infra.registry_warmth import warm_registry
from infra.sme_registry import STORED_COLUMNS, StoreResult

_STAGING = "smes_seed_staging"
DIRECT_UP_TO = 2_000_000
"""The largest registry whose corporate numbers are read into memory (about 200 MB) to stream a seed past them."""
STORED_TYPES = (
    "text", "text", "text", "text", "text", "text[]", "int", "int", "int", "text", "text[]", "text[]", "bool",
    "timestamptz",
)
"""The PostgreSQL type of each of `STORED_COLUMNS`, as `infra.copy_text` writes it."""
COPY_PIECE = 2_000
"""Rows sent at a time in a streamed COPY (about 400 KB): while Python makes a piece the server has only what the
socket holds of the last one to store, so pieces are small enough for the two to overlap."""
AHEAD = 8
"""Pieces made ahead of the COPY (about 3 MB)."""
BULK_SESSION_SETTINGS = {"maintenance_work_mem": "512MB", "synchronous_commit": "off"}
"""Per transaction: room to sort each index in memory; commit without waiting for the WAL flush (a seed that is
lost to a crash at the very end is simply run again)."""


async def bulk_add_smes(
    conn: AsyncConnection,
    records: Iterable[tuple[Any, ...]],
    *,
    expected: int,
    chunk: int = 50_000,
    progress: Callable[[int], None] = lambda rows: None,
    indexing: Callable[[], None] = lambda: None,
    direct_up_to: int = DIRECT_UP_TO,
) -> StoreResult:
    """Add `records` (tuples in `STORED_COLUMNS` order, corporate numbers distinct) in the caller's transaction;
    SMEs already registered are kept. `progress(n)` after each chunk of n rows; `indexing()` before the indexes
    are rebuilt (only when `expected` rows at least double the registry), after which the registry is read into
    the shared buffers (`infra.registry_warmth`; `StoreResult.warmed`). A registry of more than `direct_up_to`
    SMEs is written through a staging table."""
    for name, value in BULK_SESSION_SETTINGS.items():
        await conn.execute(text("SELECT set_config(:name, :value, true)"), {"name": name, "value": value})
    await conn.execute(text("LOCK TABLE smes IN SHARE ROW EXCLUSIVE MODE"))  # no other writer until commit
    existing = int((await conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'smes'"))).scalar_one())
    if existing < 0:  # never analysed: count
        existing = int((await conn.execute(text("SELECT count(*) FROM smes"))).scalar_one())
    rebuilt = await _drop_secondary_indexes(conn) if expected >= existing else []
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    if existing <= direct_up_to:
        registered = set((await conn.execute(text("SELECT id FROM smes"))).scalars())
        added = await _stream_into_registry(driver, records, registered, chunk, progress)
    else:
        added = await _through_staging(conn, driver, records, chunk, progress)
    if rebuilt:
        indexing()
        for definition in rebuilt:
            await conn.execute(text(definition))
        return StoreResult(added, 0, warmed=await warm_registry(conn))
    return StoreResult(added, 0)


async def _stream_into_registry(
    driver: Any, records: Iterable[tuple[Any, ...]], registered: set[str], chunk: int, progress: Callable[[int], None]
) -> int:
    """COPY `records` straight into `smes`, less those whose number is in `registered`; how many went in."""
    added = 0

    def new(batch: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        nonlocal added
        kept = [record for record in batch if record[0] not in registered] if registered else batch
        added += len(kept)
        return kept

    piece = min(chunk, COPY_PIECE)
    await driver.copy_to_table("smes", source=_copy_text(records, piece, new, progress), columns=list(STORED_COLUMNS))
    return added


async def _copy_text(
    records: Iterable[tuple[Any, ...]], chunk: int, keep: Callable[[list[tuple[Any, ...]]], list[tuple[Any, ...]]],
    progress: Callable[[int], None],
) -> AsyncIterator[bytes]:
    """`records` as COPY text in chunks of `chunk` rows (those `keep` keeps of each), `progress` after each.

    The chunks are made in a thread of their own, up to `AHEAD` chunks ahead of the COPY: made on the event
    loop, a chunk was only started once the last had nearly all gone into the socket, and the server, having
    stored what the socket held, waited for it. Whatever stops the COPY stops the thread."""
    pieces: queue.Queue[tuple[bytes, int] | BaseException | None] = queue.Queue(maxsize=AHEAD)
    stop = threading.Event()

    def make() -> None:
        try:
            rows, write = iter(records), copy_writer(STORED_TYPES)
            while not stop.is_set() and (batch := list(islice(rows, chunk))):
                _put(pieces, stop, (write(keep(batch)).encode(), len(batch)))
            _put(pieces, stop, None)
        except BaseException as error:  # handed to the COPY, which raises it
            _put(pieces, stop, error)

    maker = threading.Thread(target=make, name="copy-text", daemon=True)
    maker.start()
    try:
        while (piece := await asyncio.to_thread(pieces.get)) is not None:
            if isinstance(piece, BaseException):
                raise piece
            data, rows = piece
            yield data
            progress(rows)
    finally:
        stop.set()
        with contextlib.suppress(queue.Full):
            pieces.put_nowait(None)  # a wait for the next piece, cancelled, ends
        await asyncio.to_thread(maker.join)


def _put(pieces: queue.Queue[Any], stop: threading.Event, piece: Any) -> None:
    """Put `piece` once there is room, unless the COPY has stopped."""
    while not stop.is_set():
        try:
            pieces.put(piece, timeout=0.1)
            return
        except queue.Full:
            continue


async def _through_staging(
    conn: AsyncConnection, driver: Any, records: Iterable[tuple[Any, ...]], chunk: int,
    progress: Callable[[int], None],
) -> int:
    """COPY `records` into a staging table a chunk at a time, each moved on into `smes` (`ON CONFLICT DO
    NOTHING`) while the next is generated; how many were new."""
    await conn.execute(text(f"CREATE TEMPORARY TABLE {_STAGING} (LIKE smes INCLUDING DEFAULTS) ON COMMIT DROP"))
    for generated in await _generated_columns(conn):
        await conn.execute(text(f"ALTER TABLE {_STAGING} DROP COLUMN {generated}"))
    columns = ", ".join(STORED_COLUMNS)
    insert = (
        f"WITH written AS (INSERT INTO smes ({columns}) SELECT {columns} FROM {_STAGING} "
        "ON CONFLICT (id) DO NOTHING RETURNING 1) SELECT count(*) FROM written"
    )
    added = 0
    rows = iter(records)
    batch = list(islice(rows, chunk))
    while batch:
        await driver.copy_to_table(
            _STAGING, source=_copy_text(batch, len(batch), list, lambda rows: None), columns=list(STORED_COLUMNS)
        )
        # The server moves this chunk into the registry while the next one is generated here.
        inserting = asyncio.ensure_future(driver.fetchval(insert))
        await asyncio.sleep(0)
        done, batch = len(batch), list(islice(rows, chunk))
        added += int(await inserting)
        await driver.execute(f"TRUNCATE {_STAGING}")
        progress(done)
    return added


async def _drop_secondary_indexes(conn: AsyncConnection) -> list[str]:
    """Drop every index of `smes` but its primary key; their definitions, to create them again."""
    rows = (await conn.execute(text(
        "SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition "
        "FROM pg_index i WHERE i.indrelid = 'smes'::regclass AND NOT i.indisprimary ORDER BY 1"
    ))).all()
    for name, _ in rows:
        await conn.execute(text(f'DROP INDEX "{name}"'))
    return [definition for _, definition in rows]


async def _generated_columns(conn: AsyncConnection) -> list[str]:
    return list((await conn.execute(text(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'smes' AND is_generated = 'ALWAYS'"
    ))).scalars())
