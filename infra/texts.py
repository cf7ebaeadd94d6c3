"""Keeping a case's free text in PostgreSQL while only its references cross Temporal (`domain.texts`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.tables import case_texts


async def keep_texts(conn: AsyncConnection, case_id: str, texts: Mapping[str, str]) -> None:
    """Store each `{reference: text}` of a case; idempotent (a reference always stands for the same text)."""
    if texts:
        rows = [{"case_id": case_id, "ref": ref, "body": body} for ref, body in texts.items()]
        await conn.execute(insert(case_texts).values(rows).on_conflict_do_nothing())


async def kept_texts(conn: AsyncConnection, case_id: str, refs: Iterable[str]) -> dict[str, str]:
    """The texts a case's references stand for (a reference not kept is simply absent)."""
    wanted = sorted(set(refs))
    if not wanted:
        return {}
    rows = await conn.execute(
        select(case_texts.c.ref, case_texts.c.body).where(case_texts.c.case_id == case_id,
                                                          case_texts.c.ref.in_(wanted))
    )
    return {ref: body for ref, body in rows}
