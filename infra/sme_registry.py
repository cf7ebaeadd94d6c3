"""Writing and searching the SME registry.

Rows go in through PostgreSQL's COPY into a temporary table and one INSERT … ON CONFLICT from there: a
100,000-row registry loads in seconds, an import applies in one transaction (all or nothing), and the
counts of new and updated SMEs come from the same statement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import structlog
from sqlalchemy import ColumnElement, Select, any_, func, literal, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.folding import digits, words
from domain.samples import demo_sme_rows
from domain.sme_registry import RowProblem, read_registry_csv
from infra.consent_tellings import write_tellings
from infra.db import driver_rows
from infra.folded_search import contains_folded
from infra.tables import smes

STORED_COLUMNS = (
    "id",
    "name",
    "name_ja",
    "prefecture",
    "city",
    "industries",
    "employees",
    "capital_jpy",
    "founded",
    "technologies",
    "certifications",
    "overseas_interest",
    "consent",
    "updated_at",
)
SHOWN_COLUMNS = (*STORED_COLUMNS, "name_kana")
"""What a registry search shows of an SME: what we store of it, and the furigana of its name as the NTA publishes
it (public like the name itself; registry readers only, `domain.rules.REGISTRY_READERS`)."""
_STAGING = "smes_staging"
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class StoreResult:
    added: int
    updated: int
    warmed: int = 0
    """Bytes of the registry read into the shared buffers after a bulk load (`infra.registry_warmth`)."""


async def store_smes(
    conn: AsyncConnection, rows: Iterable[dict[str, Any]], on_existing: Literal["update", "keep"]
) -> StoreResult:
    """Add the rows, and update (or keep) SMEs already registered under the same corporate number.

    Runs inside the caller's transaction: nothing is visible to anyone else until it commits.
    """
    await conn.execute(text(f"CREATE TEMPORARY TABLE {_STAGING} (LIKE smes INCLUDING DEFAULTS) ON COMMIT DROP"))
    await conn.execute(text(f"ALTER TABLE {_STAGING} DROP COLUMN search, DROP COLUMN match_terms"))
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    await driver.copy_records_to_table(
        _STAGING, records=(tuple(row[c] for c in STORED_COLUMNS) for row in rows), columns=list(STORED_COLUMNS)
    )
    columns = ", ".join(STORED_COLUMNS)
    if on_existing == "update":
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in STORED_COLUMNS if c != "id")
        conflict = f"DO UPDATE SET {updates}"
    else:
        conflict = "DO NOTHING"
    result = await conn.execute(
        text(
            f"WITH written AS (INSERT INTO smes ({columns}) SELECT {columns} FROM {_STAGING} "
            f"ON CONFLICT (id) {conflict} RETURNING (xmax = 0) AS added) "
            "SELECT count(*) FILTER (WHERE added), count(*) FILTER (WHERE NOT added) FROM written"
        )
    )
    added, updated = result.one()
    await conn.execute(text(f"DROP TABLE {_STAGING}"))
    return StoreResult(int(added), int(updated))


@dataclass(frozen=True)
class RegistrySearch:
    """`GET /api/smes`: filters an officer would use to look a company up."""

    q: str | None = None
    prefecture: str | None = None
    industry: str | None = None
    technology: str | None = None
    consent: bool | None = None
    limit: int = 50
    after: str | None = None


def search_query(search: RegistrySearch) -> Select[Any]:
    """Matching SMEs in corporate-number order, a page at a time (keyset on the corporate number)."""
    conditions: list[ColumnElement[bool]] = []
    if search.q:
        conditions.append(or_(contains_folded(search.q, smes.c.name, smes.c.name_ja), smes.c.id == digits(search.q)))
    if search.prefecture:
        conditions.append(smes.c.prefecture == search.prefecture)
    if search.industry:
        conditions.append(literal(search.industry) == any_(smes.c.industries))
    if search.technology:
        sought = words(search.technology)  # as `search` holds them (migration 0027): full-width letters too
        conditions.append(smes.c.search.op("@@")(func.plainto_tsquery("english", sought)))
    if search.consent is not None:
        conditions.append(smes.c.consent.is_(search.consent))
    if search.after:
        conditions.append(smes.c.id > search.after)
    columns = [smes.c[name] for name in SHOWN_COLUMNS]
    return select(*columns).where(*conditions).order_by(smes.c.id).limit(search.limit)


def without_consent_sql(sme_ids: str) -> str:
    """SQL (PostgreSQL's own text): the ids (column `id`) of those of the SMEs whose ids the text[] parameter
    `sme_ids` (e.g. `"$2"`) holds that the registry holds without consent to be matched."""
    return f"SELECT id FROM smes WHERE id = ANY({sme_ids}::text[]) AND consent IS false"


async def unfit_smes(engine: AsyncEngine, sme_ids: Iterable[str]) -> tuple[set[str], set[str]]:
    """Those of `sme_ids` no case may take further, in one statement by the driver (`infra.db.driver_rows`, asked
    before an action: issue 15): (held without consent to be matched — withdrawn since matching —, held as closed
    — `closed_on` set by the NTA import: closed, merged or deleted since matching). An SME may be in both."""
    wanted = sorted(set(sme_ids))
    if not wanted:
        return set(), set()
    rows = await driver_rows(engine, _UNFIT, wanted)
    withdrawn = {row["id"] for row in rows if row["consent"] is False}
    closed = {row["id"] for row in rows if row["closed_on"] is not None}
    return withdrawn, closed


_UNFIT = ("SELECT id, consent, closed_on FROM smes WHERE id = ANY($1::text[]) "
          "AND (consent IS false OR closed_on IS NOT NULL)")


async def count_smes(conn: AsyncConnection) -> int:
    return int((await conn.execute(select(func.count()).select_from(smes))).scalar_one())


@dataclass(frozen=True)
class ImportOutcome:
    """An import either applied every row (`problems` empty) or none of them."""

    added: int
    updated: int
    problems: list[RowProblem]
    withdrawn: list[str] = field(default_factory=list)
    """The SMEs that consented before the import and do not after it (their consent was withdrawn)."""
    to_tell: list[str] = field(default_factory=list)
    """One id per (open case, SME) the withdrawals affect: each is in `consent_tellings` until its case is told."""


async def import_registry_csv(engine: AsyncEngine, lines: Iterable[str], now: datetime) -> ImportOutcome:
    """Read a registry CSV and, when every row is good, upsert all of it in one transaction."""
    read = read_registry_csv(lines)
    if read.problems:
        return ImportOutcome(0, 0, read.problems)
    refusing = sorted({record.corporate_number for record in read.records if not record.consent})
    async with engine.begin() as conn:
        withdrawn = list((await conn.scalars(  # locked: nobody changes their consent meanwhile
            select(smes.c.id).where(smes.c.id.in_(refusing), smes.c.consent).order_by(smes.c.id).with_for_update()
        )).all()) if refusing else []
        result = await store_smes(conn, (record.as_row(now) for record in read.records), on_existing="update")
        # With the change itself: the open cases it affects are told even if Temporal is away now (issue 19).
        to_tell = await write_tellings(conn, withdrawn, now)
    log.info("registry.imported", added=result.added, updated=result.updated, withdrawn=len(withdrawn),
             to_tell=len(to_tell))
    return ImportOutcome(result.added, result.updated, [], withdrawn, to_tell)


async def seed_demo_smes(engine: AsyncEngine) -> int:
    """Add the demo SMEs that are missing (idempotent); how many the registry had none of."""
    async with engine.begin() as conn:
        result = await conn.execute(insert(smes).values(demo_sme_rows(datetime.now(UTC))).on_conflict_do_nothing())
    return int(result.rowcount or 0)
