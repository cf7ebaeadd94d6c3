"""`alliance smes import-nta`: the National Tax Agency's corporate-number publication files into the registry."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from sqlalchemy.ext.asyncio import AsyncEngine

from app.cli_support import _with_engine, console
from domain.nta_publication import PublicationError, decoded_lines, read_publication
from infra.nta_import import PublicationOutcome, apply_publication
from infra.settings import Settings

_PROGRESS_STEP = 1 << 20
"""Bytes read between two updates of the progress bar."""


def _opened(file: Path, stack: ExitStack) -> tuple[IO[bytes], int]:
    """The publication's CSV bytes and their size: the file itself, or the one CSV inside an NTA download zip."""
    if file.suffix.lower() != ".zip":
        return stack.enter_context(file.open("rb")), file.stat().st_size
    archive = stack.enter_context(zipfile.ZipFile(file))
    members = [m for m in archive.infolist() if m.filename.lower().endswith(".csv")]
    if len(members) != 1:
        raise PublicationError(0, None, f"an NTA download holds one CSV file; this zip holds {len(members)}")
    return stack.enter_context(archive.open(members[0])), members[0].file_size


async def _apply(engine: AsyncEngine, file: Path, encoding: str | None) -> PublicationOutcome:
    columns = (TextColumn(escape(file.name)), BarColumn(), DownloadColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with ExitStack() as stack:
        stream, size = _opened(file, stack)
        progress = stack.enter_context(Progress(*columns, console=console, transient=True))
        task = progress.add_task("reading", total=size)

        def lines() -> Iterator[bytes]:
            pending = 0
            for raw in stream:
                pending += len(raw)
                if pending >= _PROGRESS_STEP:
                    progress.advance(task, pending)
                    pending = 0
                yield raw
            progress.advance(task, pending)

        async with engine.begin() as conn:
            return await apply_publication(
                conn, read_publication(decoded_lines(lines(), encoding)), now=datetime.now(UTC)
            )


def smes_import_nta(
    files: Annotated[
        list[Path],
        typer.Argument(help="Publication files (CSV, or the NTA's zip holding one), applied in the order given.",
                       exists=True, dir_okay=False),
    ],
    encoding: Annotated[
        str | None,
        typer.Option(help="utf-8 (the Unicode edition) or shift_jis; unset: detected line by line."),
    ] = None,
) -> None:
    """Keep names, furigana, addresses and closures current from the NTA's corporate-number publication (全件 or
    差分 files): each file applies whole or, at its first bad cell, not at all; what SMEs told us is kept."""

    async def main(settings: Settings, engine: AsyncEngine) -> None:
        for done, file in enumerate(files):
            try:
                outcome = await _apply(engine, file, encoding)
            except (PublicationError, OSError, zipfile.BadZipFile) as error:
                before = f" (the {done} file(s) before it stay applied)" if done else ""
                console.print(f"[red]error:[/] {escape(str(file))}: {escape(str(error))}; nothing of it applied"
                              f"{before}", highlight=False)
                raise typer.Exit(1) from None
            console.print(
                f"{escape(str(file))}: {outcome.rows:,} row(s), {outcome.numbers:,} corporate number(s): "
                f"{outcome.updated:,} SME(s) updated ({outcome.closed:,} closed, {outcome.restored:,} restored), "
                f"{outcome.added:,} company(ies) added without consent, {outcome.unchanged:,} unchanged, "
                f"{outcome.not_taken:,} not taken (not a company, head office abroad, or closed)",
                highlight=False,
            )

    _with_engine(main)
