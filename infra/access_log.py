"""The access log's storage: one row each time personal data is shown to someone (append-only, `access_log`),
kept for the retention period (`purge_access_log`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, Text, cast, delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.audit_tables import access_log
from infra.db import driver_rows
from infra.sme_registry import without_consent_sql


@dataclass(frozen=True)
class AccessFilter:
    """Which rows to read: all given conditions hold; newest first, at most `limit`, before id `before`."""

    case_id: str | None = None
    person_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 200
    before: int | None = None


async def write_access(engine: AsyncEngine, rows: Sequence[dict[str, Any]], consent_of: Collection[str] = ()
                       ) -> frozenset[str]:
    """Append the rows (keys: `NOTED_COLUMNS`) in one statement, run by the driver outside any transaction (one
    statement is atomic: `infra.db.driver_rows`); and, in that same statement and round trip, read which of
    `consent_of` (SME ids) the registry holds without consent to be matched (`infra.sme_registry`), returned.

    The statement's text is the same whatever the number of rows (they travel as one JSON array), so the driver
    prepares it once per connection: rows given to SQLAlchemy as a multi-row INSERT made a statement it compiled
    again on every request, about 8% of the API's CPU under load (issue 15, profiled)."""
    wanted = sorted(set(consent_of))
    if not rows and not wanted:
        return frozenset()
    if not wanted:
        await driver_rows(engine, _NOTE, _as_json(rows))
        return frozenset()
    if not rows:
        found = await driver_rows(engine, without_consent_sql("$1"), wanted)
    else:  # PostgreSQL runs a data-modifying WITH once, to completion, whether or not it is read
        found = await driver_rows(engine, f"WITH noted AS ({_NOTE}) {without_consent_sql('$2')}",
                                  _as_json(rows), wanted)
    return frozenset(row[0] for row in found)


NOTED_COLUMNS = ("person_id", "person_name", "role", "org", "case_id", "sme_ids", "fields", "route")
"""What a caller gives for each row of the access log (the rest is the database's)."""
_NOTE = (f"INSERT INTO access_log ({', '.join(NOTED_COLUMNS)}) SELECT {', '.join(NOTED_COLUMNS)} "
         "FROM jsonb_to_recordset($1::jsonb) AS noted(person_id text, person_name text, role text, org text, "
         "case_id uuid, sme_ids text[], fields text[], route text)")


def _as_json(rows: Sequence[dict[str, Any]]) -> str:
    return orjson.dumps([{name: row[name] for name in NOTED_COLUMNS} for row in rows]).decode()


async def purge_access_log(engine: AsyncEngine, before: datetime) -> int:
    """Delete the rows written before `before` (the end of their retention period); how many. The append-only
    guard (migration 0027) lets a DELETE through only for rows older than the cutoff the same transaction
    declares, so nothing newer can go this way or any other."""
    async with engine.begin() as conn:
        await conn.execute(select(func.set_config("casedesk.access_log_cutoff", before.isoformat(), True)))
        deleted = await conn.execute(delete(access_log).where(access_log.c.at < before))
        return int(deleted.rowcount)


CANONICAL_UTC = 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'
"""A time as `domain.audit.canonical_time` writes it, as a PostgreSQL `to_char` pattern of UTC."""
ACCESS_COLUMNS = ("id", "at", "person_id", "person_name", "role", "org", "case_id", "sme_ids", "fields", "route")
"""What an exported access-log row holds (`infra.audit_export`, `access=true`)."""


def exported_access(conditions: Sequence[ColumnElement[bool]], time_format: str) -> Select[Any]:
    """The rows for an export, oldest first (by id), in `ACCESS_COLUMNS` order, `at` as text in `time_format`
    (a PostgreSQL `to_char` pattern, of UTC) and the case id as text."""
    log = access_log.c
    return (
        select(log.id, func.to_char(func.timezone("UTC", log.at), time_format).label("at"), log.person_id,
               log.person_name, log.role, log.org, cast(log.case_id, Text).label("case_id"), log.sme_ids, log.fields,
               log.route)
        .where(*conditions).order_by(log.id)
    )


async def read_access(engine: AsyncEngine, wanted: AccessFilter) -> list[dict[str, Any]]:
    """The rows `wanted` names, newest first (ties by id), each as a dict of the table's columns."""
    conditions: list[ColumnElement[bool]] = []
    if wanted.case_id is not None:
        conditions.append(access_log.c.case_id == wanted.case_id)
    if wanted.person_id is not None:
        conditions.append(access_log.c.person_id == wanted.person_id)
    if wanted.since is not None:
        conditions.append(access_log.c.at >= wanted.since)
    if wanted.until is not None:
        conditions.append(access_log.c.at < wanted.until)
    if wanted.before is not None:
        conditions.append(access_log.c.id < wanted.before)
    query = select(access_log).where(*conditions).order_by(access_log.c.id.desc()).limit(wanted.limit)
    async with engine.connect() as conn:
        return [dict(row) for row in (await conn.execute(query)).mappings()]


async def case_access(engine: AsyncEngine, case_id: str) -> list[dict[str, Any]]:
    """Every row of the case's access log, oldest first, as exported (`ACCESS_COLUMNS`, `at` canonical)."""
    async with engine.connect() as conn:
        rows = await conn.execute(exported_access([access_log.c.case_id == case_id], CANONICAL_UTC))
        return [dict(zip(ACCESS_COLUMNS, row, strict=True)) for row in rows]
