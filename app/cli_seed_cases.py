"""`alliance seed-cases`: fill a development database with a year of generated cases (`app.case_seeding`)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from sqlalchemy.ext.asyncio import AsyncEngine

from app.bootstrap import open_temporal
from app.case_seeding import SeedRefused, seed_cases
from app.cli_support import _settings, _with_engine, console
from infra.settings import Settings

MAX_CASES = 100_000


def seed_cases_command(
    count: Annotated[int, typer.Option(min=1, max=MAX_CASES, help="How many cases to generate.")] = 1_000,
    months: Annotated[int, typer.Option(min=1, max=36, help="Filed over this many months before now.")] = 12,
    seed: Annotated[int, typer.Option(help="The same seed makes the same choices (times count back from now).")] = 0,
) -> None:
    """Generate cases with a year of back-dated activity (references GEN-…), for the dashboard and the reports in
    development; refused in production, and when generated cases are there already."""
    if _settings().environment == "production":
        console.print("[red]seed-cases:[/] refused with ENVIRONMENT=production: generated cases are for development")
        raise typer.Exit(2)

    async def main(settings: Settings, engine: AsyncEngine) -> None:
        client = await open_temporal(settings)
        columns = (TextColumn("seeding cases"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TimeRemainingColumn())
        started = time.perf_counter()
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("seeding", total=count)
            try:
                seeded = await seed_cases(settings, engine, client, count=count, months=months, seed=seed,
                                          now=datetime.now(UTC), progress=lambda n: progress.advance(task, n))
            except SeedRefused as refused:
                progress.stop()
                console.print(f"[red]seed-cases:[/] {escape(str(refused))}")
                raise typer.Exit(1) from None
        console.print(f"{seeded.cases:,} generated cases (references GEN-…) with {seeded.events:,} signed events "
                      f"over {months} months; {seeded.open:,} still open, each with its workflow "
                      f"({time.perf_counter() - started:.1f} s)")

    _with_engine(main)
