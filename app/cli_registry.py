"""`alliance smes …` and `alliance seed-smes`: fill and check the SME registry from the command line."""

from __future__ import annotations

import io
import re
import time
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.bootstrap import open_temporal
from app.cli_nta import smes_import_nta
from app.cli_support import _with_engine, console
from app.sme_generator import MAX_ROWS, seed_smes
from domain.registry_file import RegistryEncodingError, registry_text
from infra.settings import Settings
from infra.sme_registry import count_smes, import_registry_csv
from infra.startup import StartupError
from services.registry import tell_withdrawals

smes_app = typer.Typer(help="The SME registry.", no_args_is_help=True)
smes_app.command("import-nta")(smes_import_nta)


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
        if outcome.withdrawn:  # each open case with them among its candidates puts it on its trail
            console.print(await _told(settings, engine, outcome.withdrawn, outcome.to_tell), highlight=False)

    _with_engine(main)


async def _told(settings: Settings, engine: AsyncEngine, withdrawn: list[str], to_tell: list[str]) -> str:
    """Tell the open cases the withdrawals affect now, when Temporal answers; the line saying what happened. The
    import stored them to tell (`consent_tellings`): what is not told now, the worker's courier tells later."""
    try:
        untold = await tell_withdrawals(engine, await open_temporal(settings), to_tell) if to_tell else 0
    except StartupError as away:
        untold, why = len(to_tell), f" ({away})"
    else:
        why = ""
    told = len(to_tell) - untold
    line = f"{len(withdrawn)} SME(s) withdrew their consent: {told} of {len(to_tell)} open case(s) told"
    return line + (f"; the other {untold} are kept, and the worker tells them once Temporal takes them{why}"
                   if untold else "")


def count_as_typed(typed: str) -> int | None:
    """The number of SMEs a person asked for as they typed it ("3400000", "3,400,000", "３４０００００",
    "３，４００，０００"), when the generator makes that many (1 to `MAX_ROWS`); else None. Commas only between
    groups of three digits ("3,4" is no count), digits only ASCII or full-width."""
    text = unicodedata.normalize("NFKC", typed).strip()  # full-width digits and comma to ASCII
    if not _COUNT.fullmatch(text):
        return None
    digits = text.replace(",", "").lstrip("0")
    if len(digits) > len(str(MAX_ROWS)):  # never thousands of digits into int()
        return None
    number = int(digits or "0")
    return number if 1 <= number <= MAX_ROWS else None


REBUILD_INCLUDED = ", the indexes' rebuild included"
_COUNT = re.compile(r"[0-9]+|[0-9]{1,3}(,[0-9]{3})+", re.ASCII)


def _shown(typed: str, most: int = 40) -> str:
    return typed if len(typed) <= most else typed[: most - 1] + "…"


def seed_smes_command(
    count: Annotated[
        str,
        typer.Option(metavar="N", help=f"How many SMEs to generate (1 to {MAX_ROWS:,}; Japan has about 3.4 million)."),
    ] = "100000",
    seed: Annotated[int, typer.Option(help="The same seed gives the same registry.")] = 0,
) -> None:
    """Generate a realistic registry of Japanese SMEs (deterministic; SMEs already there are kept)."""
    rows = count_as_typed(count)
    if rows is None:
        console.print(f"[red]seed-smes:[/] --count takes a whole number from 1 to {MAX_ROWS:,}, "
                      f"not {escape(repr(_shown(count.strip())))}")
        raise typer.Exit(2)

    async def main(settings: Settings, engine: AsyncEngine) -> None:
        columns = (
            TextColumn("seeding SMEs"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(), TimeRemainingColumn(),
        )
        started = time.perf_counter()
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("seeding", total=rows, rate="")

            def advance(piece: int) -> None:
                progress.advance(task, piece)
                done = progress.tasks[task].completed
                progress.update(task, rate=f"{done / (time.perf_counter() - started):,.0f} rows/s")

            rebuilt: list[bool] = []

            def indexing() -> None:
                rebuilt.append(True)
                progress.console.print("building the registry's indexes…")

            async with engine.begin() as conn:
                result = await seed_smes(conn, rows, seed=seed, now=datetime.now(UTC), progress=advance,
                                         indexing=indexing)
        took = time.perf_counter() - started
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE smes"))  # fresh statistics and a merged text index
            total = await count_smes(conn)
        console.print(
            f"{result.added:,} SME(s) added ({rows - result.added:,} were there already) in {took:.1f} s "
            f"({result.added / took:,.0f} added a second{REBUILD_INCLUDED if rebuilt else ''}); "
            f"{total:,} in all"
        )
        if result.warmed:
            console.print(f"the registry ({result.warmed / 2**20:,.0f} MB) is in PostgreSQL's shared buffers")

    _with_engine(main)
