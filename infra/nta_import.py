"""Applying a corporate-number publication of the National Tax Agency to the SME registry.

Rows are COPYed into a temporary table, the latest of each number kept (the highest update date, then the
last in the file), and then, in the caller's transaction:

- an SME the registry holds gets the published name (`name_ja`), furigana (`name_kana`), English name (when
  the NTA has one), prefecture and city (unless its head office moved abroad: then they stay), and its closure
  (`closed_on`, `close_cause`, `successor_id`; cleared when the NTA restores the record); nothing an SME told
  us about itself changes (technologies, consent, industries, size, `updated_at`). A row older than the one
  last applied to that SME (`nta_updated`) changes nothing, so files applied out of order or twice are harmless;
- a live company (`domain.nta_publication.COMPANY_KINDS`) with an address in Japan that the registry lacks is
  added without consent and without technologies, so matching never proposes it until it tells us more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.nta_publication import Publication

_STAGING = "nta_publication_staging"
_LATEST = "nta_publication_latest"
_STAGED = (
    "id", "seq", "updated", "name_ja", "name_en", "name_kana", "company", "prefecture", "city", "closed_on",
    "close_cause", "successor_id",
)
_PUBLISHED = ("name_ja", "name_kana", "name", "prefecture", "city", "closed_on", "close_cause", "successor_id",
              "nta_updated")
"""What a publication sets on a registered SME, and nothing else."""


@dataclass(frozen=True)
class PublicationOutcome:
    """What one file did: `rows` read, `numbers` distinct corporate numbers among them; `updated` registered
    SMEs changed (`closed` of them closed by this file, `restored` reopened), `added` companies new to the
    registry; `unchanged` registered SMEs the file had nothing new for (or only older rows); `not_taken`
    numbers the registry neither holds nor takes (not a company, head office abroad, or already closed)."""

    rows: int
    numbers: int
    updated: int
    closed: int
    restored: int
    added: int
    unchanged: int
    not_taken: int


def _staged(publication: Publication) -> tuple[object, ...]:
    return (
        publication.corporate_number, publication.sequence, publication.updated, publication.name_ja,
        publication.name_en, publication.furigana, publication.is_company, publication.prefecture, publication.city,
        publication.closed_on, publication.close_cause, publication.successor,
    )


async def apply_publication(
    conn: AsyncConnection,
    publications: Iterable[Publication],
    *,
    now: datetime,
    chunk: int = 20_000,
    progress: Callable[[int], None] = lambda rows: None,
) -> PublicationOutcome:
    """Apply `publications` (one file's rows, in file order) in the caller's transaction; `progress(n)` after each
    chunk of n rows is staged. `now` is the `updated_at` of companies added. An exception from `publications`
    (a bad row) propagates, and the caller's transaction then applies nothing."""
    await conn.execute(text(
        f"CREATE TEMPORARY TABLE {_STAGING} (id varchar(13), seq bigint, updated date, name_ja text, name_en text, "
        "name_kana text, company boolean, prefecture varchar(16), city text, closed_on date, close_cause varchar(2), "
        "successor_id varchar(13)) ON COMMIT DROP"
    ))
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    rows = 0
    staged = (_staged(publication) for publication in publications)
    while batch := list(islice(staged, chunk)):
        await driver.copy_records_to_table(_STAGING, records=batch, columns=list(_STAGED))
        rows += len(batch)
        progress(len(batch))
    await conn.execute(text(
        f"CREATE TEMPORARY TABLE {_LATEST} ON COMMIT DROP AS SELECT DISTINCT ON (id) * FROM {_STAGING} "
        "ORDER BY id, updated DESC, seq DESC"
    ))
    numbers, registered = (await conn.execute(text(
        f"SELECT count(*), count(s.id) FROM {_LATEST} l LEFT JOIN smes s ON s.id = l.id"
    ))).one()
    published = ", ".join(_PUBLISHED)
    updated, closed, restored = (await conn.execute(text(
        "WITH target AS (SELECT l.id, l.name_ja, l.name_kana, coalesce(l.name_en, s.name) AS name, "
        "coalesce(l.prefecture, s.prefecture) AS prefecture, "
        "CASE WHEN l.prefecture IS NULL THEN s.city ELSE l.city END AS city, "
        "l.closed_on, l.close_cause, l.successor_id, l.updated AS nta_updated, s.closed_on IS NULL AS was_open "
        f"FROM {_LATEST} l JOIN smes s ON s.id = l.id "
        "WHERE s.nta_updated IS NULL OR s.nta_updated <= l.updated FOR UPDATE OF s), "
        f"changed AS (UPDATE smes SET ({published}) = ({', '.join('t.' + c for c in _PUBLISHED)}) FROM target t "
        f"WHERE smes.id = t.id AND ({', '.join('smes.' + c for c in _PUBLISHED)}) "
        f"IS DISTINCT FROM ({', '.join('t.' + c for c in _PUBLISHED)}) "
        "RETURNING t.closed_on IS NOT NULL AND t.was_open AS closed, "
        "t.closed_on IS NULL AND NOT t.was_open AS restored) "
        "SELECT count(*), count(*) FILTER (WHERE closed), count(*) FILTER (WHERE restored) FROM changed"
    ))).one()
    added = (await conn.execute(
        text(
            "WITH added AS (INSERT INTO smes (id, name, name_ja, name_kana, prefecture, city, industries, employees, "
            "technologies, consent, updated_at, nta_updated) "
            "SELECT id, coalesce(name_en, name_ja), name_ja, name_kana, prefecture, city, '{}', 0, '', false, :now, "
            f"updated FROM {_LATEST} WHERE company AND prefecture IS NOT NULL AND closed_on IS NULL "
            "ON CONFLICT (id) DO NOTHING RETURNING 1) SELECT count(*) FROM added"
        ),
        {"now": now},
    )).scalar_one()
    return PublicationOutcome(
        rows=rows, numbers=int(numbers), updated=int(updated), closed=int(closed), restored=int(restored),
        added=int(added), unchanged=int(registered) - int(updated),
        not_taken=int(numbers) - int(registered) - int(added),
    )
