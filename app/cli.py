"""The `alliance` command line (docs/DESIGN.md §7)."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.bootstrap import open_database, open_parts
from app.cli_audit import audit_app
from app.cli_incidents import incidents_app
from app.cli_mail import mail_outbox_command, mail_retry_command
from app.cli_registry import seed_smes_command, smes_app
from app.cli_seed_cases import seed_cases_command
from app.cli_support import _run, _settings, _with_database, an_id, console
from app.serving import api_server, serve_until_stopped, stop_event
from domain.model import Role
from domain.people import person_details, resolve_org
from infra.settings import Settings
from infra.startup import StartupError
from infra.users import NewUser, add_user, list_users, revoke_user

app = typer.Typer(help="Global Alliance Case Desk", no_args_is_help=True, add_completion=False)
users_app = typer.Typer(help="Manage users and their tokens.", no_args_is_help=True)
app.add_typer(users_app, name="users")
mail_app = typer.Typer(help="The outbox, and the local mail sink of `alliance run`.", no_args_is_help=True)
app.add_typer(mail_app, name="mail")
mail_app.command("outbox")(mail_outbox_command)
mail_app.command("retry")(mail_retry_command)
app.add_typer(audit_app, name="audit")
app.add_typer(smes_app, name="smes")
app.add_typer(incidents_app, name="incidents")
app.command("seed-smes")(seed_smes_command)
app.command("seed-cases")(seed_cases_command)
@app.command()
def run() -> None:
    """The whole product: embedded PostgreSQL and Temporal (unless configured), worker, API."""
    from app.product import run_product

    _run(run_product(_settings(), console))


@app.command()
def worker() -> None:
    """A case worker on the configured Temporal and database."""

    async def main() -> None:
        settings = _settings()
        parts = await open_parts(settings, run_migrations=False)
        await parts.keep_schedules()
        await parts.anchor_legacy_trail()
        console.print(f"worker polling {settings.temporal_task_queue!r} on {settings.effective_temporal_address}")
        stop = stop_event()
        watcher = asyncio.create_task(parts.watch_incidents(stop))
        relay = asyncio.create_task(parts.relay_mail(stop))
        courier = asyncio.create_task(parts.tell_withdrawals(stop))
        try:
            await serve_until_stopped(stop, None, parts.worker())
        finally:
            stop.set()
            await asyncio.gather(watcher, relay, courier)
            await parts.engine.dispose()

    _run(main())


@app.command()
def api() -> None:
    """The HTTP API on the configured Temporal and database."""

    async def main() -> None:
        settings = _settings()
        parts = await open_parts(settings, run_migrations=False)
        console.print(f"API on http://{settings.api_host}:{settings.api_port}")
        try:
            await serve_until_stopped(stop_event(), api_server(parts.app(), settings.api_host, settings.api_port), None)
        finally:
            await parts.engine.dispose()

    _run(main())


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""

    async def main() -> None:
        engine = await open_database(_settings(), run_migrations=True)
        await engine.dispose()
        console.print("[green]✓[/] database schema is up to date")

    _run(main())


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Option(help="The person's name.")],
    role: Annotated[Role, typer.Option(help="One of the roles of docs/DESIGN.md §2.")],
    org: Annotated[str | None, typer.Option(help="Office or body code; the company's code for applicants.")] = None,
    email: Annotated[str | None, typer.Option(help="Where notifications go.")] = None,
    language: Annotated[str, typer.Option(help="en or ja.")] = "en",
) -> None:
    """Create a user; its bearer token is the last line printed."""
    smtp_utf8 = _settings().smtp_utf8  # a wrong setting is one line and exit 1, before the arguments are judged
    try:
        resolved = resolve_org(role, org)
        if language not in ("en", "ja"):
            raise ValueError("--language is en or ja")
        details = person_details(name, email, language, smtp_utf8)
    except ValueError as error:
        console.print(f"[red]error:[/] {escape(str(error))}")
        raise typer.Exit(2) from None

    async def main(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        expires = datetime.now(UTC) + timedelta(days=settings.token_ttl_days) if settings.token_ttl_days else None
        person = NewUser(details.name, role, resolved, details.email, details.language)
        user_id, token = await add_user(sessions, person, settings.token_pepper.get_secret_value(), expires_at=expires)
        until = f", token valid until {expires:%Y-%m-%d}" if expires else ""
        console.print(f"created {role} {name!r} of {resolved} (id {user_id}{until})")
        sys.stdout.write(token + "\n")

    _with_database(main)


@users_app.command("list")
def users_list() -> None:
    """Every user: role, organisation, e-mail, and whether the token still works."""

    async def main(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        table = Table("id", "name", "role", "org", "email", "lang", "token")
        now = datetime.now(UTC)
        for user in await list_users(sessions):
            state = ("revoked" if user.revoked_at else "expired" if user.expires_at and user.expires_at <= now
                     else f"valid until {user.expires_at:%Y-%m-%d}" if user.expires_at else "valid")
            table.add_row(user.id, user.name, user.role, user.org, user.email or "-", user.language, state)
        Console(soft_wrap=True).print(table)

    _with_database(main)


@users_app.command("revoke")
def users_revoke(user_id: Annotated[str, typer.Argument(help="The id `users add` or `users list` printed.")]) -> None:
    """Revoke a user's token at once (the running API refuses it from the next request)."""
    user_id = an_id(user_id, "a user id")

    async def main(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        if not await revoke_user(sessions, user_id):
            console.print(f"[red]error:[/] no user {user_id} with a token that still works")
            raise typer.Exit(1)
        console.print(f"revoked {user_id}")

    _with_database(main)


@mail_app.command("list")
def mail_list(
    show: Annotated[bool, typer.Option("--show", help="Print each message's text too.")] = False,
) -> None:
    """The e-mails the local sink has received, oldest first."""
    from infra.mail_sink import kept_messages

    messages = kept_messages(Settings().mail_dir)
    if not messages:
        console.print("no mail yet")
    for message in messages:
        when = message.received.isoformat(timespec="seconds") if message.received else "-"
        sys.stdout.write(f"{when}  {message.to}  {message.subject}\n")
        if show:
            sys.stdout.write(message.body.rstrip() + "\n\n")


@app.command()
def demo(
    url: Annotated[str | None, typer.Option(help="The API's address; default: this machine's `alliance run`.")] = None,
) -> None:
    """Drive one sample case through every stage over HTTP (as each demo user) and print its timeline."""
    from app.demo import DemoError, run_demo

    settings = _settings()
    if settings.environment != "development":
        console.print("[red]error:[/] the demo signs in as the demo users, which exist in development only")
        raise typer.Exit(1)
    base = url or f"http://{settings.api_host}:{settings.api_port}"

    async def main() -> None:
        try:
            await run_demo(base, settings.token_pepper.get_secret_value(), Console(soft_wrap=True))
        except (DemoError, httpx.TransportError) as error:
            raise StartupError(f"the demo stopped: {error} (is `alliance run` running at {base}?)") from None

    _run(main())


def main() -> None:
    app()


if __name__ == "__main__":  # `python -m app.cli` (how `alliance run` starts its worker)
    main()
