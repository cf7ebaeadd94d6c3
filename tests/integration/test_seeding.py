"""`alliance seed-smes` adds a generated registry without touching the SMEs already there, whichever way the rows
go in (streamed straight into the registry, or through a staging table for a registry too big to read its
numbers), and leaves every index of the registry in place."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.sme_generator import generate_smes
from infra.sme_bulk import bulk_add_smes
from infra.sme_registry import count_smes, seed_demo_smes, store_smes
from infra.tables import smes

NOW = datetime(2026, 11, 30, tzinfo=UTC)


async def indexes(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'smes'::regclass ORDER BY 1"
        ))).scalars())


@pytest.mark.parametrize("direct_up_to", [1_000_000, 0], ids=["streamed", "through staging"])
async def test_a_seed_keeps_the_smes_already_there_and_every_index(registry: AsyncEngine, direct_up_to: int) -> None:
    generated = list(generate_smes(3_000, seed=4, now=NOW))
    told = generated[1_234] | {"name": "Told Us Itself Co., Ltd.", "consent": False}
    async with registry.begin() as conn:
        await store_smes(conn, [told], on_existing="keep")
    demo = await seed_demo_smes(registry)
    before = await indexes(registry)

    async with registry.begin() as conn:
        records = (tuple(row.values()) for row in generated)
        result = await bulk_add_smes(conn, records, expected=len(generated), chunk=1_000, direct_up_to=direct_up_to)
    assert (result.added, result.updated) == (len(generated) - 1, 0)
    async with registry.connect() as conn:
        assert await count_smes(conn) == len(generated) + demo
        kept = (await conn.execute(select(smes.c.name, smes.c.consent).where(smes.c.id == told["id"]))).one()
        assert tuple(kept) == ("Told Us Itself Co., Ltd.", False)
        loaded = (await conn.execute(select(smes.c.name, smes.c.match_terms).where(
            smes.c.id == generated[0]["id"]))).one()
    assert loaded.name == generated[0]["name"] and "prefecture " + generated[0]["prefecture"] in loaded.match_terms
    assert await indexes(registry) == before


UNCACHED = """
SELECT r.oid::regclass::text, pg_relation_size(r.oid) / current_setting('block_size')::int - (
    SELECT count(*) FROM pg_buffercache b
    WHERE b.relfilenode = pg_relation_filenode(r.oid) AND b.relforknumber = 0
      AND b.reldatabase = (SELECT oid FROM pg_database WHERE datname = current_database()))
FROM (SELECT indexrelid AS oid FROM pg_index WHERE indrelid = 'smes'::regclass UNION ALL SELECT 'smes'::regclass) r
"""


async def test_a_seed_that_rebuilds_the_indexes_leaves_the_whole_registry_in_the_shared_buffers(
    registry: AsyncEngine,
) -> None:
    """Issue 23: COPY writes through a small ring of buffers and a B-tree's build writes past them, so without
    warming the first matching after a seed read the registry from the operating system page by page."""
    async with registry.begin() as conn:
        await conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_buffercache"))
        result = await bulk_add_smes(conn, (tuple(row.values()) for row in generate_smes(3_000, seed=6, now=NOW)),
                                     expected=3_000)
    async with registry.connect() as conn:
        uncached = {name: left for name, left in (await conn.execute(text(UNCACHED))).all()}
        size = (await conn.execute(text(
            "SELECT sum(pg_relation_size(r)) FROM (SELECT indexrelid AS r FROM pg_index "
            "WHERE indrelid = 'smes'::regclass UNION ALL SELECT 'smes'::regclass) x"))).scalar_one()
    assert len(uncached) >= 4 and set(uncached.values()) == {0}, uncached  # the table, its key, its text indexes
    assert (result.added, result.warmed) == (3_000, size)


async def test_a_seed_stores_every_value_the_generator_made(registry: AsyncEngine) -> None:
    generated = list(generate_smes(500, seed=5, now=NOW))
    # Text COPY reserves backslash, tab and newline, and arrays quote what a bare element cannot hold.
    generated[7] |= {
        "name": 'Tab\tNew\nLine\rBack\\slash "Quoted", {Braced}', "city": "", "founded": None,
        "certifications": ["ISO 9001", "", "NULL", 'a "quote", a\\slash', "{x}"], "overseas_interest": [],
        "industries": ["E", "L"],
    }
    async with registry.begin() as conn:
        await bulk_add_smes(conn, (tuple(row.values()) for row in generated), expected=len(generated), chunk=64)
    async with registry.connect() as conn:
        stored = (await conn.execute(select(*[smes.c[name] for name in generated[0]]).where(
            smes.c.id.in_([row["id"] for row in generated])))).mappings().all()
    assert sorted((dict(row) for row in stored), key=lambda row: row["id"]) == sorted(
        generated, key=lambda row: row["id"]
    )


async def test_a_seed_whose_rows_fail_midway_raises_that_failure_and_stores_nothing(registry: AsyncEngine) -> None:
    generated = list(generate_smes(5_000, seed=6, now=NOW))

    def rows_then_a_fault() -> Iterator[tuple[Any, ...]]:
        yield from (tuple(row.values()) for row in generated[:4_000])
        raise RuntimeError("the generator broke")

    async with registry.connect() as conn:
        before = await count_smes(conn)
    with pytest.raises(RuntimeError, match="the generator broke"):
        async with registry.begin() as conn:
            await bulk_add_smes(conn, rows_then_a_fault(), expected=len(generated), chunk=1_000)
    async with registry.connect() as conn:
        assert await count_smes(conn) == before
    assert [t.name for t in threading.enumerate() if t.name == "copy-text"] == []


async def test_a_seed_whose_role_may_not_run_pg_prewarm_is_stored_all_the_same_unwarmed(
    registry: AsyncEngine,
) -> None:
    """Issue 23: warming is a courtesy to the first matching after the seed, never a condition of it. A server
    where the registry's owner may not execute pg_prewarm (revoked from PUBLIC, as a hardened server does with an
    extension's functions) once lost the whole seed to 'permission denied' at its very end."""
    owner = f"seeder_{uuid.uuid4().hex[:10]}"
    async with registry.begin() as conn:
        await conn.execute(text(f"CREATE ROLE {owner}"))
        await conn.execute(text(f"ALTER TABLE smes OWNER TO {owner}"))
        await conn.execute(text(f"GRANT CREATE ON SCHEMA public TO {owner}"))
        await conn.execute(text("REVOKE EXECUTE ON FUNCTION pg_prewarm(regclass,text,text,bigint,bigint) FROM PUBLIC"))
    try:
        async with registry.begin() as conn:
            before = await count_smes(conn)
            await conn.execute(text(f"SET LOCAL ROLE {owner}"))
            result = await bulk_add_smes(conn, (tuple(row.values()) for row in generate_smes(3_000, seed=7, now=NOW)),
                                         expected=3_000)
        async with registry.connect() as conn:
            assert await count_smes(conn) == before + 3_000
        assert (result.added, result.warmed) == (3_000, 0)
    finally:
        async with registry.begin() as conn:
            await conn.execute(text(f"REASSIGN OWNED BY {owner} TO CURRENT_USER"))
            await conn.execute(text(f"DROP OWNED BY {owner}"))
            await conn.execute(text(f"DROP ROLE {owner}"))
