"""The access log's storage: one row each time personal data is shown to someone (append-only, `access_log`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, insert, select
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


async def write_access(engine: AsyncEngine, rows: Sequence[dict[str, Any]]) -> None:
    """Append the rows (keys: person_id, person_name, role, org, case_id, sme_ids, fields, route) in one statement."""
    if rows:
        async with engine.begin() as conn:
            await conn.execute(insert(access_log), list(rows))


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
