"""`alliance mail outbox` and `alliance mail retry`: the outbox as an operator sees and fixes it."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from app.cli_support import _with_engine, console
from infra.settings import Settings
from services import mail_outbox
from services.mail_outbox import Status


def mail_outbox_command(
    status: Annotated[Status | None, typer.Option(help="Only messages with this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many, newest first.")] = 50,
) -> None:
    """Outbox messages, newest first: status, tries, next try and the server's last answer."""

    async def main(_: Settings, engine: AsyncEngine) -> None:
        found = await mail_outbox.messages(engine, status, limit=limit)
        table = Table("case", "template", "to", "status", "tries", "next try", "last answer")
        table.add_column("id (for `alliance mail retry`)", no_wrap=True)
        for m in found:
            when = f"{m.next_attempt_at:%Y-%m-%d %H:%M:%S}" if m.next_attempt_at else "-"
            table.add_row(m.case_id, m.template, m.recipient_email, m.status, str(m.attempts), when,
                          (m.last_error or "-")[:120], m.id)
        console.print(table)
        console.print(f"{len(found)} message(s)")

    _with_engine(main)


def mail_retry_command(
    message_id: Annotated[str, typer.Argument(help="The outbox message (its id, as `alliance mail outbox` lists).")],
) -> None:
    """Send an undeliverable message again now, once its cause (address, server) is fixed."""
    try:
        uuid.UUID(message_id)
    except ValueError:
        console.print(f"[red]error:[/] {message_id!r} is not a message id")
        raise typer.Exit(2) from None

    async def main(_: Settings, engine: AsyncEngine) -> None:
        before = await mail_outbox.retry_message(engine, message_id)
        if before is None:
            console.print(f"[red]error:[/] no message {message_id} in the outbox")
            raise typer.Exit(1)
        if before in (Status.SENT, Status.CANCELLED):
            console.print(f"message {message_id} is {before}: nothing to retry")
            raise typer.Exit(1)
        console.print(f"message {message_id} was {before}; the relay sends it now")

    _with_engine(main)

