"""Matching and registry benchmarks: seeding and CSV import rows/s, and matching latency over a registry.

`make bench-matching` (BENCH_ARGS="--smes 3400000 --queries 300"; up to 5,000,000 SMEs). Starts its own embedded
PostgreSQL. Its last line is for scripts:
`RESULT smes=… match_p50_ms=… match_p90_ms=… match_p99_ms=… seed_rows_per_s=… import_rows_per_s=…`.
"""

from __future__ import annotations

import asyncio
import csv
import io
import random
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.matching import Matching
from app.sme_generator import MAX_ROWS, generate_smes, seed_smes
from app.sme_profiles import TECHNOLOGY_AREAS
from bench.stack import bench_database
from contracts.activities import FindCandidates
from domain.filing import EmployeeRange, Seeking
from domain.geography import PREFECTURES
from domain.payloads import MatchingCriteria
from domain.sme_registry import COLUMNS
from infra.settings import Settings
from infra.sme_registry import import_registry_csv

console = Console()
TECHNOLOGIES = sorted(t for area in TECHNOLOGY_AREAS.values() for t in area)


def registry_csv(count: int, seed: int, now: datetime) -> str:
    """A registry CSV as an officer would send it (the generator's SMEs in the import's columns)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in generate_smes(count, seed=seed, now=now):
        cells: dict[str, Any] = row | {
            "corporate_number": row["id"],
            "industries": ";".join(row["industries"]),
            "certifications": ";".join(row["certifications"]),
            "overseas_interest": ";".join(row["overseas_interest"]),
            "consent": "yes" if row["consent"] else "no",
            "updated": row["updated_at"].isoformat(),
        }
        writer.writerow([cells[c] for c in COLUMNS])
    return out.getvalue()


def request(rng: random.Random) -> FindCandidates:
    """A plausible request: 1–3 technologies, sometimes an industry, prefectures and a size."""
    seeking = Seeking(
        technologies=rng.sample(TECHNOLOGIES, rng.randint(1, 3)),
        industries=["E"] if rng.random() < 0.7 else [],
        prefectures=[p.name for p in rng.sample(PREFECTURES, rng.randint(1, 3))] if rng.random() < 0.5 else [],
        alliance_types=["capital_alliance"],
        employees=EmployeeRange(min=20, max=rng.choice([100, 300, 1000])) if rng.random() < 0.5 else None,
    )
    return FindCandidates(seeking=seeking, criteria=MatchingCriteria(limit=20))


def ms(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000


async def run(smes: int, imported: int, queries: int, keep: Path | None) -> None:
    now = datetime.now(UTC)
    settings = Settings()
    table = Table("measure", "value")
    async with bench_database(console, settings, keep) as engine:
        async with engine.connect() as conn:
            registered = (await conn.execute(text("SELECT count(*) FROM smes"))).scalar_one()
        if registered >= smes:  # a kept registry from an earlier run: matched as it is
            await _match(engine, settings, now, queries, table, seeded=0.0, import_rate=0.0)
        else:
            seeded, import_rate = await _seed(engine, smes, imported, now, table)
            await _match(engine, settings, now, queries, table, seeded=smes / seeded, import_rate=import_rate)


async def _seed(engine: AsyncEngine, smes: int, imported: int, now: datetime, table: Table) -> tuple[float, float]:
    """Seed `smes` SMEs and import `imported` twice; (seconds the seed took, rows/s of the first import)."""
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"seeding {smes:,} SMEs", total=smes)
        started = time.perf_counter()
        async with engine.begin() as conn:
            await seed_smes(
                conn, smes, seed=1, now=now, progress=lambda n: progress.advance(task, n),
                indexing=lambda: progress.update(task, description="building the registry's indexes"),
            )
        seeded = time.perf_counter() - started
    table.add_row("seed-smes", f"{smes:,} rows in {seeded:.1f} s = {smes / seeded:,.0f} rows/s")
    import_rate = 0.0

    content = registry_csv(imported, seed=2, now=now)
    for label in ("import (new SMEs)", "import again (all updates)"):
        started = time.perf_counter()
        outcome = await import_registry_csv(engine, content.splitlines(keepends=True), now)
        took = time.perf_counter() - started
        assert not outcome.problems, outcome.problems[:3]
        table.add_row(label, f"{imported:,} rows in {took:.1f} s = {imported / took:,.0f} rows/s")
        import_rate = import_rate or imported / took
    return seeded, import_rate


async def _match(
    engine: AsyncEngine, settings: Settings, now: datetime, queries: int, table: Table, *, seeded: float,
    import_rate: float,
) -> None:
    """Time `queries` matching requests over the registry; `seeded`: the seed's rows/s (0: none this run)."""
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE smes"))
        total = (await conn.execute(text("SELECT count(*) FROM smes"))).scalar_one()

    matching = Matching(engine, settings.match_weights)
    rng = random.Random(42)
    for _ in range(20):  # warm the pool and the caches
        await matching.rank(request(rng), now)
    latencies: list[float] = []
    found: list[int] = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"{queries} matching requests", total=queries)
        for _ in range(queries):
            command = request(rng)
            started = time.perf_counter()
            candidates = await matching.rank(command, now)
            latencies.append(time.perf_counter() - started)
            found.append(len(candidates))
            progress.advance(task)
    table.add_row("registry", f"{total:,} SMEs")
    table.add_row(
        "matching latency",
        f"p50 {ms(latencies, 50):.1f} ms, p90 {ms(latencies, 90):.1f} ms, p99 {ms(latencies, 99):.1f} ms "
        f"({queries} requests, top 20)",
    )
    table.add_row("candidates per request", f"median {statistics.median(found):.0f}")
    console.print(table)
    console.print(
        f"RESULT smes={total} match_p50_ms={ms(latencies, 50):.1f} match_p90_ms={ms(latencies, 90):.1f} "
        f"match_p99_ms={ms(latencies, 99):.1f} seed_rows_per_s={seeded:.0f} import_rows_per_s={import_rate:.0f}",
        soft_wrap=True,
    )


def main(
    smes: Annotated[
        int, typer.Option("--smes", min=100, max=MAX_ROWS, help="SMEs seeded into the registry (Japan: 3,400,000).")
    ] = 100_000,
    imported: Annotated[int, typer.Option("--import", min=1, help="Rows in the imported CSV.")] = 20_000,
    queries: Annotated[int, typer.Option("--queries", min=10, help="Matching requests timed.")] = 300,
    keep: Annotated[
        Path | None,
        typer.Option("--keep", help="Keep PostgreSQL's data in this folder; a registry of at least --smes SMEs found "
                     "there is matched as it is, without seeding or importing (seed_rows_per_s=0)."),
    ] = None,
) -> None:
    asyncio.run(run(smes, imported, queries, keep))


if __name__ == "__main__":
    typer.run(main)
