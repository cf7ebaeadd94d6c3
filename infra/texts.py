"""Keeping a case's free text in PostgreSQL while only its references cross Temporal (`domain.texts`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ScalarSelect, Text, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.tables import case_texts

_KEEP = insert(case_texts).from_select(
    ["case_id", "ref", "body"],
    select(bindparam("case_id", type_=case_texts.c.case_id.type),
           func.unnest(bindparam("refs", type_=ARRAY(Text))), func.unnest(bindparam("bodies", type_=ARRAY(Text)))),
).on_conflict_do_nothing()
"""Built once (issue 15): one statement whatever the number of texts, so SQLAlchemy compiles it once; a multi-row
VALUES is a new statement for each count, and with ON CONFLICT one it never caches. Parameters: case_id, refs and
bodies (lists of the same length)."""


async def keep_texts(conn: AsyncConnection, case_id: str, texts: Mapping[str, str]) -> None:
    """Store each `{reference: text}` of a case; idempotent (a reference always stands for the same text)."""
    if texts:
        await conn.execute(_KEEP, {"case_id": case_id, "refs": list(texts), "bodies": list(texts.values())})


def kept_texts_of(case_id: Any, refs: Any) -> ScalarSelect[Any]:
    """A scalar subquery: the texts a case's references stand for, as one JSON object `{ref: text}` (NULL when
    none is kept; a reference not kept is simply absent), to read beside other things in one round trip.

    `case_id` and `refs` are values or bound parameters (`refs` then an expanding one), so a caller on a hot
    path can build its statement once."""
    return (select(func.jsonb_object_agg(case_texts.c.ref, case_texts.c.body))
            .where(case_texts.c.case_id == case_id, case_texts.c.ref.in_(refs))
            .scalar_subquery())
