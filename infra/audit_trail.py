"""Reading the stored audit trail back (for verification and history), a case at a time, and which of its events
a case took (`TAKEN`: not voided, `domain.voiding`); every case's trail in one pass is
`infra.streamed_verification`'s."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import ColumnElement, Numeric, and_, case, exists, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from domain import events
from domain.audit import AuditEntry
from domain.errors import Unreplayable
from domain.stored_rows import ROW_COLUMNS, DamagedRow, Row, audit_entry, copy_row, trail_entries
from infra.tables import audit_events, cases

_ONE_CASE = f"SELECT {ROW_COLUMNS} FROM audit_events WHERE case_id = $1 ORDER BY seq"  # for COPY … TO STDOUT
_PRINTED_AS_ROWS = "SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'"
"""The settings `ROW_COLUMNS` prints times with (for the rest of the transaction, or savepoint, it runs in)."""

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
async def read_snapshot(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Any]:
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
    async with read_snapshot(sessions) as driver:
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


async def case_on_record(engine: AsyncEngine, case_id: str) -> bool:
    """Whether the read model holds the case (filed through the desk), whatever its trail holds."""
    async with engine.connect() as conn:
        return await conn.scalar(select(cases.c.id).where(cases.c.id == case_id)) is not None


async def case_ids(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    query = select(audit_events.c.case_id).distinct().order_by(audit_events.c.case_id)
    async with sessions() as session:
        return [str(case_id) for case_id in (await session.scalars(query)).all()]
