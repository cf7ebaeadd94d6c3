"""A sender claims a few messages at once (issue 15); what its batch must never cost: a message delivered to one
person sent again because another of the batch went wrong, and new mail waiting behind a slow answer while other
senders sit idle. Real PostgreSQL and real SMTP servers (aiosmtpd), as tests/e2e/test_mail_relay.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from infra.smtp import message_id
from infra.startup import free_port
from services.mail_relay import MailRelay
from tests.e2e.test_mail_relay import SIGNER, outbox_rows, rows_of, smtp_on
from tests.helpers.mail import Picky, serve

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Latin1(Picky):
    """Refuses `refused` for good in ISO-8859-1, as some servers still answer (not UTF-8: no SMTPUTF8 here)."""

    def __init__(self, folder: Path, refused: str) -> None:
        super().__init__(folder)
        self.refused = refused

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> Any:
        if address == self.refused:
            return "550 5.1.1 Empfänger unbekannt".encode("latin-1")
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


async def test_a_refusal_in_latin_1_costs_the_others_of_its_batch_nothing(
    registry: AsyncEngine, temporal: Client, tmp_path: Path,
) -> None:
    """A server's answer that is not UTF-8 (here ISO-8859-1) reaches the relay with undecodable bytes; it is kept
    as the message's last error, legibly, the message waits for its next try, and the message sent before it in
    the same batch is sent once — not again and again, each time the relay looks."""
    port = free_port()
    handler = Latin1(tmp_path / "mail", "gone@acme.example")
    server = serve(handler, port)
    relay = MailRelay(registry, smtp_on(port), temporal, SIGNER, senders=2, idle_seconds=0.1, permanent_tries=3)
    try:
        case_id = await outbox_rows(registry, ("Aki", "aki@acme.example"))
        await outbox_rows(registry, ("Gone", "gone@acme.example"), case_id=case_id)
        async with relay.running():
            await asyncio.sleep(2)
    finally:
        server.stop()
    rows = {r["recipient_email"]: r for r in await rows_of(registry, case_id)}
    aki = rows["aki@acme.example"]
    assert handler.deliveries[message_id(str(aki["id"]))] == 1, "Aki got the message again each time"
    assert aki["status"] == "sent"
    gone = rows["gone@acme.example"]
    assert (gone["status"], gone["attempts"]) == ("pending", 1)
    assert gone["last_error"].startswith("550 5.1.1 Empf") and "nger unbekannt" in gone["last_error"]
