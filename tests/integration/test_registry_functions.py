"""Migration 0025 rewrote two functions every registry row goes through, for speed: `sme_match_terms` (what the
matching index holds) and `casedesk_fold` (what the name search indexes hold). Stored columns and indexes made
with the old bodies stay valid only if the new ones give the same result for every input: held here on
generated SMEs and on the texts most likely to differ. Migration 0032 added to `sme_match_terms` each technology
word in the SME's prefecture and region, and nothing else. Migrations 0033 and 0034 only made it faster."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.sme_generator import generate_sme_records, seed_smes
from domain.geography import PREFECTURES
from infra.migrate import earlier_migration
from infra.sme_registry import STORED_COLUMNS

OLD_TERMS = str(earlier_migration("0023_matching_terms.py").TERMS).replace(
    "CREATE FUNCTION sme_match_terms", "CREATE FUNCTION pg_temp.old_match_terms"
)
OLD_FOLD = (
    "CREATE FUNCTION pg_temp.old_fold(text) RETURNS text LANGUAGE sql IMMUTABLE AS "
    f"$$ SELECT {earlier_migration('0025_corporate_number_publication.py')._FOLD_BEFORE} $$"
)
_REGIONS = ", ".join(f"('{p.name}', '{p.region}')" for p in PREFECTURES)
PLACED = (
    "CREATE FUNCTION pg_temp.placed(technologies text, prefecture text) RETURNS tsvector LANGUAGE sql IMMUTABLE AS "
    "$$ SELECT array_to_tsvector(ARRAY(SELECT prefecture || ' ' || word FROM unnest(tsvector_to_array("
    "to_tsvector('english', technologies))) AS word) "
    "|| ARRAY(SELECT region || ' region ' || word FROM unnest(tsvector_to_array(to_tsvector('english', technologies)))"
    f" AS word, (VALUES {_REGIONS}) AS regions (name, region) WHERE name = prefecture)) $$"
)
"""Each technology word in the prefecture (`Aichi robot`) and in its region (`Chubu region robot`), the regions
as `domain.geography` has them: what migration 0032 adds to the terms of 0023."""
TEXTS = ["さくら精工", "ｻｸﾗ精工", "サクラ", "ゟ", "ゝゞ", "ゖ", "ぁ", "🈀", "㋐㈱", "ＡＩＣＨＩ Works", "Ǆ", "", "ß",
         "İstanbul"]


async def test_match_terms_and_folding_give_what_the_old_bodies_gave(engine: AsyncEngine) -> None:
    records = list(generate_sme_records(20_000, seed=11, now=datetime.now(UTC)))
    records += [(r[0], *r[1:5], [], *r[6:]) for r in records[:50]]  # no industry at all
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TEMPORARY TABLE generated (LIKE smes INCLUDING DEFAULTS) ON COMMIT DROP"))
        await conn.execute(text("ALTER TABLE generated DROP COLUMN search, DROP COLUMN match_terms"))
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        await driver.copy_records_to_table("generated", records=records, columns=list(STORED_COLUMNS))
        await conn.execute(text(OLD_TERMS))
        await conn.execute(text(OLD_FOLD))
        await conn.execute(text(PLACED))
        arguments = "technologies, industries, prefecture, certifications, overseas_interest"
        differing = (await conn.execute(text(
            f"SELECT count(*) FROM generated WHERE sme_match_terms({arguments}) "
            f"IS DISTINCT FROM pg_temp.old_match_terms({arguments}) || pg_temp.placed(technologies, prefecture)"
        ))).scalar_one()
        assert differing == 0
        folded = (await conn.execute(text(
            "SELECT t, casedesk_fold(t), pg_temp.old_fold(t) FROM (SELECT name FROM generated UNION SELECT name_ja "
            "FROM generated UNION SELECT unnest(CAST(:texts AS text[]))) AS texts (t)"
        ), {"texts": TEXTS})).all()
        assert len(folded) > 1000
        assert [t for t, now, before in folded if now != before] == []


FOLD_0025 = (
    "CREATE FUNCTION pg_temp.fold_0025(text) RETURNS text LANGUAGE sql IMMUTABLE AS "
    f"$$ SELECT {earlier_migration('0025_corporate_number_publication.py')._FOLD_NOW} $$"
)
EDGES = ["", " ", "~", "ABC xyz", "Tab\there", "line\nbreak", "\x7f", "\x01", "\u00a0", "ﬁne", "Ｗorks", "Ω", "Å",
         "İ", "K\u0301", "CAD/CAM; 3D printing"]


async def test_folding_printable_ascii_at_once_gives_what_migration_0025_gave(engine: AsyncEngine) -> None:
    records = generate_sme_records(5_000, seed=12, now=datetime.now(UTC))
    texts = sorted({text for r in records for text in (r[1], r[2], r[9])} | set(EDGES) | set(TEXTS))
    async with engine.begin() as conn:
        await conn.execute(text(FOLD_0025))
        folded = (await conn.execute(text(
            "SELECT t, casedesk_fold(t), pg_temp.fold_0025(t) FROM unnest(CAST(:texts AS text[])) AS texts (t)"
        ), {"texts": texts})).all()
        unfolded = (await conn.execute(text("SELECT casedesk_fold(NULL)"))).scalar_one()
    assert unfolded is None  # no longer declared STRICT (so it is inlined), still NULL for NULL
    assert len(folded) == len(texts) > 10_000
    assert [t for t, now, before in folded if now != before] == []
    assert {t: now for t, now, _ in folded}["ABC xyz"] == "abc xyz"


TERMS_0032 = str(earlier_migration("0032_technology_words_by_prefecture.py").TERMS).format(
    placed=earlier_migration("0032_technology_words_by_prefecture.py").PLACED
).replace("CREATE OR REPLACE FUNCTION sme_match_terms", "CREATE FUNCTION pg_temp.terms_0032")
ODD_TECHNOLOGIES = [
    *TEXTS, *EDGES, "", "the of and", "a\x01b c\x01", "x\x02y; z\x1fw", "http://example.com/a b.c@d.org 1.5 3-D",
    "co-operative robots; 'quoted' \"words\"", "robot robot robots", "AIスマート工場", "ﾛﾎﾞｯﾄ",
]


async def test_match_terms_without_subqueries_give_what_migration_0032_gave(engine: AsyncEngine) -> None:
    """Migration 0033 computes the same lexemes without a query per call: equal to 0032's body on generated SMEs and
    on odd technologies (control characters, the separator it joins words with among them), industries, no
    industry, no certification list, every prefecture and one of no region."""
    records = generate_sme_records(5_000, seed=13, now=datetime.now(UTC))
    rows = [(r[9], r[5], r[3], r[10], r[11]) for r in records]
    rows += [
        (t, ["E", "G"], p.name, ["ISO 9001"], ["Europe"]) if n % 2 else (t, [], p.name, [], [])
        for n, (t, p) in enumerate(zip(ODD_TECHNOLOGIES * 4, PREFECTURES * 4, strict=False))
    ]
    rows += [("robots", None, "Atlantis", None, None), ("robots", ["E"], "Aichi", ["x"], None)]
    async with engine.begin() as conn:
        await conn.execute(text(TERMS_0032))
        differing = (await conn.execute(text(
            "SELECT count(*), count(*) FILTER (WHERE sme_match_terms(t, i, p, c, o) IS DISTINCT FROM "
            "pg_temp.terms_0032(t, i, p, c, o)) FROM unnest(CAST(:t AS text[])) WITH ORDINALITY AS t (t, n) "
            "JOIN (SELECT n, i, p, c, o FROM json_to_recordset(CAST(:rows AS json)) "
            "AS r (n int, i varchar[], p varchar, c text[], o text[])) AS r USING (n)"
        ), {
            "t": [row[0] for row in rows],
            "rows": json.dumps([
                {"n": n, "i": row[1], "p": row[2], "c": row[3], "o": row[4]} for n, row in enumerate(rows, 1)
            ]),
        })).one()
    assert differing == (len(rows), 0)


TERMS_0033 = str(earlier_migration("0033_match_terms_without_subqueries.py").TERMS).replace(
    "CREATE OR REPLACE FUNCTION sme_match_terms", "CREATE FUNCTION pg_temp.terms_0033"
)
ODD_INDUSTRIES = [["E"], ["E", "G"], ["E", "E"], [""], ["a\x01b"], ["\x01"], [None], ["E", None, "G"], [], None]


OUTCOME = """
CREATE FUNCTION pg_temp.outcome_{name}(t text, i varchar[], p varchar, c text[], o text[]) RETURNS text
LANGUAGE plpgsql AS $$ BEGIN RETURN {function}(t, i, p, c, o)::text;
EXCEPTION WHEN others THEN RETURN 'refused: ' || SQLERRM; END $$
"""
"""What a body gives for some arguments as text, or the error it raises (a NULL prefecture, an empty lexeme)."""


async def test_match_terms_in_one_split_give_what_migration_0033_gave(engine: AsyncEngine) -> None:
    """Migration 0034 joins the extra lexemes and splits them once, and finds regions in a `jsonb`: equal to 0033's
    body on generated SMEs and on odd technologies, industries (the separator in them, NULL elements, none), every
    prefecture, one of no region, a prefecture holding the separator and none; the same refusals too."""
    records = generate_sme_records(5_000, seed=14, now=datetime.now(UTC))
    rows = [(r[9], r[5], r[3], r[10], r[11]) for r in records]
    places = [p.name for p in PREFECTURES] + ["Atlantis", "", "Ai\x01chi", "aichi", "Aichi ", None]
    rows += [
        (t, ODD_INDUSTRIES[n % len(ODD_INDUSTRIES)], places[n % len(places)], [["ISO 9001"], [], None][n % 3],
         [["Europe"], [], None][n % 5 % 3])
        for n, t in enumerate(ODD_TECHNOLOGIES * 8)
    ]
    rows += [(None, ["E"], "Aichi", ["x"], ["y"]), ("robots", None, "Atlantis", None, None)]
    async with engine.begin() as conn:
        await conn.execute(text(TERMS_0033))
        await conn.execute(text(OUTCOME.format(name="now", function="sme_match_terms")))
        await conn.execute(text(OUTCOME.format(name="before", function="pg_temp.terms_0033")))
        counts = (await conn.execute(text(
            "SELECT count(*), count(*) FILTER (WHERE now LIKE 'refused: %'), count(*) FILTER (WHERE now IS DISTINCT "
            "FROM before) FROM (SELECT pg_temp.outcome_now(t, i, p, c, o) AS now, pg_temp.outcome_before(t, i, p, c, o)"
            " AS before FROM json_to_recordset(CAST(:rows AS json)) AS r (t text, i varchar[], p varchar, c text[], "
            "o text[])) AS outcomes"
        ), {"rows": json.dumps([{"t": t, "i": i, "p": p, "c": c, "o": o} for t, i, p, c, o in rows])})).one()
    total, refused, differing = counts
    assert (total, differing) == (len(rows), 0)
    assert 0 < refused < 200  # a NULL prefecture, an industry of the separator alone


async def test_a_seeded_registry_stores_what_migration_0033_gave(registry: AsyncEngine) -> None:
    """The generated columns of a seed (one COPY, indexes rebuilt after it) hold what 0033's body gives."""
    async with registry.begin() as conn:
        await seed_smes(conn, 20_000, seed=15, now=datetime.now(UTC))
    async with registry.begin() as conn:
        await conn.execute(text(TERMS_0033))
        counts = (await conn.execute(text(
            "SELECT count(*), count(*) FILTER (WHERE match_terms IS DISTINCT FROM pg_temp.terms_0033("
            "casedesk_fold(technologies), industries, prefecture, certifications, overseas_interest) "
            "OR search IS DISTINCT FROM to_tsvector('english', casedesk_fold(technologies))) FROM smes"
        ))).one()
    assert counts == (20_000, 0)
