"""`alliance smes …` and `alliance seed-smes`: fill and check the SME registry from the command line."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.cli_support import _with_engine, console
from app.sme_generator import MAX_ROWS, seed_smes
from domain.registry_file import RegistryEncodingError, registry_text
from infra.settings import Settings
from infra.sme_registry import count_smes, import_registry_csv

smes_app = typer.Typer(help="The SME registry.", no_args_is_help=True)


@smes_app.command("import")
def smes_import(
    file: Annotated[Path, typer.Argument(help="A registry CSV with a header row.", exists=True, dir_okay=False)],
    encoding: Annotated[
        str | None,
        typer.Option(help="utf-8 or shift_jis (cp932); unset: detected (UTF-8 when the file is valid UTF-8)."),
    ] = None,
) -> None:
    """Import a registry CSV: every row is applied, or (on any problem) none; problems are listed."""
    try:
        content = registry_text(file.read_bytes(), encoding)
    except (RegistryEncodingError, OSError) as error:
        console.print(f"[red]error:[/] {escape(str(file))}: {escape(str(error))}")
        raise typer.Exit(1) from None

    async def main(settings: Settings, engine: AsyncEngine) -> None:
        # newline="" as the csv module asks: a CR LF ends a row, a line break inside a quoted cell stays in it.
        outcome = await import_registry_csv(engine, io.StringIO(content, newline=""), datetime.now(UTC))
        for problem in outcome.problems:
            where = f"line {problem.line}" + (f", column {problem.column}" if problem.column else "")
            console.print(f"[red]{where}:[/] {escape(problem.message)}")
        if outcome.problems:
            console.print(f"{len(outcome.problems)} problem(s): nothing imported")
            raise typer.Exit(1)
        console.print(f"{outcome.added} SME(s) added, {outcome.updated} updated")

    _with_engine(main)


def seed_smes_command(
    count: Annotated[int, typer.Option(min=1, max=MAX_ROWS, help="How many SMEs to generate.")] = 100_000,
    seed: Annotated[int, typer.Option(help="The same seed gives the same registry.")] = 0,
) -> None:
    """Generate a realistic registry of Japanese SMEs (deterministic; SMEs already there are kept)."""

    async def main(settings: Settings, engine: AsyncEngine) -> None:
        columns = (TextColumn("seeding SMEs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("seeding", total=count)
            async with engine.begin() as conn:
                result = await seed_smes(
                    conn, count, seed=seed, now=datetime.now(UTC), progress=lambda n: progress.advance(task, n)
                )
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE smes"))  # fresh statistics and a merged text index
            total = await count_smes(conn)
        console.print(f"{result.added} SME(s) added ({count - result.added} were there already); {total} in all")

    _with_engine(main)
