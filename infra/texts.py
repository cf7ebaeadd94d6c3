"""Keeping a case's free text in PostgreSQL while only its references cross Temporal (`domain.texts`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ScalarSelect, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from infra.db import driver_rows
from infra.tables import case_texts

_KEEP = ("INSERT INTO case_texts (case_id, ref, body) SELECT $1::uuid, unnest($2::text[]), unnest($3::text[]) "
         "ON CONFLICT DO NOTHING")
"""One statement whatever the number of texts, in PostgreSQL's own text (issue 15: prepared once by the driver,
never compiled per count). Parameters: the case id, the references and the texts (lists of the same length)."""


def _kept(case_id: str, texts: Mapping[str, str]) -> tuple[str, list[str], list[str]]:
    """`_KEEP`'s parameters."""
    return case_id, list(texts), list(texts.values())


async def keep_texts(conn: AsyncConnection, case_id: str, texts: Mapping[str, str]) -> None:
    """Store each `{reference: text}` of a case, in `conn`'s transaction; idempotent (a reference always stands
    for the same text)."""
    if texts:
        await conn.exec_driver_sql(_KEEP, _kept(case_id, texts))


async def keep_texts_alone(engine: AsyncEngine, case_id: str, texts: Mapping[str, str]) -> None:
    """`keep_texts` as a statement of its own, committed on its own, run by the driver (`infra.db.driver_rows`):
    before an action, in the API (issue 15)."""
    if texts:
        await driver_rows(engine, _KEEP, *_kept(case_id, texts))


def kept_texts_of(case_id: Any, refs: Any) -> ScalarSelect[Any]:
    """A scalar subquery: the texts a case's references stand for, as one JSON object `{ref: text}` (NULL when
    none is kept; a reference not kept is simply absent), to read beside other things in one round trip.

    `case_id` and `refs` are values or bound parameters (`refs` then an expanding one), so a caller on a hot
    path can build its statement once."""
    return (select(func.jsonb_object_agg(case_texts.c.ref, case_texts.c.body))
            .where(case_texts.c.case_id == case_id, case_texts.c.ref.in_(refs))
            .scalar_subquery())
