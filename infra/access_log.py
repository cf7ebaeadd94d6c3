"""The access log's storage: one row each time personal data is shown to someone (append-only, `access_log`),
kept for the retention period (`purge_access_log`)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Insert, Row, Select, Text, bindparam, cast, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.tables import access_log


@dataclass(frozen=True)
class AccessFilter:
    """Which rows to read: all given conditions hold; newest first, at most `limit`, before id `before`."""

    case_id: str | None = None
    person_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 200
    before: int | None = None


async def write_access(engine: AsyncEngine, rows: Sequence[dict[str, Any]], beside: Select[Any] | None = None
                       ) -> list[Row[Any]]:
    """Append the rows (keys: person_id, person_name, role, org, case_id, sme_ids, fields, route) in one statement
    (on an AUTOCOMMIT engine, `infra.db.autocommit`, without BEGIN and COMMIT round trips: one statement is atomic);
    `beside`, a read, is run in that same statement (the rows a WITH clause, one round trip), its rows returned."""
    if not rows and beside is None:
        return []
    async with engine.begin() as conn:
        if beside is None:
            await conn.execute(insert(access_log), list(rows))
            return []
        if not rows:
            return list(await conn.execute(beside))
        # PostgreSQL runs a data-modifying WITH once, to completion, whether or not it is read
        return list(await conn.execute(beside.add_cte(_noting(len(rows)).cte("noted")), _numbered(rows)))


NOTED_COLUMNS = ("person_id", "person_name", "role", "org", "case_id", "sme_ids", "fields", "route")
"""What a caller gives for each row of the access log (the rest is the database's)."""


@functools.lru_cache(maxsize=64)  # a count per page size shown: a few
def _noting(count: int) -> Insert:
    """`count` rows' INSERT with bound parameters `<column>_<i>` (`_numbered`), built once per count: rows given
    as values make a statement SQLAlchemy compiles again every time, which cost every answer that shows a case
    about a millisecond of the API's CPU (issue 15)."""
    return insert(access_log).values([
        {name: bindparam(f"{name}_{i}", type_=access_log.c[name].type) for name in NOTED_COLUMNS} for i in range(count)
    ])


def _numbered(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {f"{name}_{i}": row[name] for i, row in enumerate(rows) for name in NOTED_COLUMNS}


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
