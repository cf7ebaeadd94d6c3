"""What every `alliance` command shares: settings, a database for the command's life, clean failures."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.bootstrap import open_database
from infra.db import session_factory
from infra.log_bounds import DEFAULT_MAX_LINE_BYTES
from infra.logging import configure_logging
from infra.settings import Settings
from infra.startup import StartupError
from infra.text_cut import cut
from infra.tracebacks import format_exception

console = Console(stderr=True, soft_wrap=True)


def settings_problem(error: ValidationError) -> str:
    """A settings refusal as one line: each problem with the setting it is about (a model-wide check names its
    setting in its message)."""
    problems = []
    for problem in error.errors():
        message = str(problem["msg"]).removeprefix("Value error, ")
        where = ".".join(str(part) for part in problem["loc"]).upper()
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


def _settings() -> Settings:
    """The settings, or one line saying which one is wrong and exit status 1."""
    try:
        settings = Settings()
    except ValidationError as error:
        console.print(f"[red]error:[/] {escape(settings_problem(error))}", highlight=False)
        raise typer.Exit(1) from None
    configure_logging(settings.log_format, settings.log_level, settings.log_max_line_bytes)
    return settings


def _with_engine(command: Callable[[Settings, AsyncEngine], Awaitable[None]]) -> None:
    """Run a command that needs only the database (it works beside a running `alliance run`)."""

    async def main() -> None:
        settings = _settings()
        engine = await open_database(settings, run_migrations=False)
        try:
            await command(settings, engine)
        finally:
            await engine.dispose()

    _run(main())


def _with_database(command: Callable[[Settings, async_sessionmaker[AsyncSession]], Awaitable[None]]) -> None:
    _with_engine(lambda settings, engine: command(settings, session_factory(engine)))


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a command; a start-up problem is one clear line and exit status 1, not a traceback.

    An unexpected failure is its traceback, bounded like a log line, and exit status 1: Typer would render it
    with Rich and the locals of every frame (minutes for a deep recursion, and whatever secrets they hold).
    """
    try:
        asyncio.run(coroutine)
    except StartupError as error:
        console.print(f"[red]error:[/] {error}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as error:
        text = cut(format_exception(error), DEFAULT_MAX_LINE_BYTES, keep_end=True)
        sys.stderr.write(f"error: the command failed unexpectedly\n{text}\n")
        raise typer.Exit(1) from None


def an_id(value: str, what: str) -> str:
    """`value` when it is an id (a UUID) as this desk gives them out; otherwise one line saying so, exit status 2."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        console.print(f"[red]error:[/] {escape(repr(value))} is not {what} (ids look like 0b3e…-…, as printed)")
        raise typer.Exit(2) from None
