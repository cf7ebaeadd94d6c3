"""A sender claims a few messages at once (issue 15); what its batch must never cost: a message delivered to one
person sent again because another of the batch went wrong, and new mail waiting behind a slow answer while other
senders sit idle. Real PostgreSQL and real SMTP servers (aiosmtpd), as tests/e2e/test_mail_relay.py."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from infra.smtp import message_id
from infra.startup import free_port
from services.mail_relay import MailRelay
from tests.helpers.mail import Picky, serve
from tests.helpers.relay import SIGNER, drain, outbox_rows, rows_of, smtp_on, until

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Slow(Picky):
    """Answers RCPT TO for `slow` after `seconds` the first time it is tried (a tarpit, a recipient check that
    takes its time); `asked` is set once that answer is being waited for."""

    def __init__(self, folder: Path, slow: str, seconds: float) -> None:
        super().__init__(folder)
        self.slow, self.seconds = slow, seconds
        self.asked = threading.Event()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address == self.slow and not self.asked.is_set():
            self.asked.set()
            await asyncio.sleep(self.seconds)
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


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


async def test_a_relay_cancelled_mid_batch_never_sends_again_what_it_had_sent(
    registry: AsyncEngine, temporal: Client, tmp_path: Path,
) -> None:
    """`MailRelay.run` cancels a sender still busy `smtp.timeout + 5` after the stop (a tarpit answering each
    command just within the timeout outlasts it). The batch's first message was taken by the server before; it
    stays sent, never delivered a second time with the message the cancel interrupted."""
    port = free_port()
    handler = Slow(tmp_path / "mail", "slow@acme.example", seconds=30)
    server = serve(handler, port)
    relay = MailRelay(registry, smtp_on(port), temporal, SIGNER, senders=1)
    try:
        case_id = await outbox_rows(registry, ("Aki", "aki@acme.example"))
        await outbox_rows(registry, ("Slow", "slow@acme.example"), case_id=case_id)  # due after Aki's
        sending = asyncio.create_task(relay.send_due())
        await until(handler.asked.is_set, 10)
        assert len(handler.deliveries) == 1, "Aki's message was taken before the slow one was tried"
        sending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sending
        await relay.sessions.close()
        again = MailRelay(registry, smtp_on(port), temporal, SIGNER)
        await drain(again)
        await again.sessions.close()
    finally:
        server.stop()
    rows = {r["recipient_email"]: r for r in await rows_of(registry, case_id)}
    assert rows["aki@acme.example"]["status"] == "sent"
    assert handler.deliveries[message_id(str(rows["aki@acme.example"]["id"]))] == 1, "Aki got the message twice"
    assert rows["slow@acme.example"]["status"] == "sent"


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


async def test_new_mail_goes_while_another_sender_waits_on_a_slow_answer(
    registry: AsyncEngine, temporal: Client, tmp_path: Path,
) -> None:
    """Two senders, idle; one takes a message whose RCPT TO the server answers only after 8 s. Mail written
    meanwhile is sent by the other, idle, sender within a few idle periods, not once the slow answer came."""
    port = free_port()
    handler = Slow(tmp_path / "mail", "slow@acme.example", seconds=8)
    server = serve(handler, port)
    relay = MailRelay(registry, replace(smtp_on(port), timeout=20), temporal, SIGNER, senders=2, idle_seconds=0.1)
    try:
        async with relay.running():
            await asyncio.sleep(0.5)  # both senders found nothing: they wait
            await outbox_rows(registry, ("Slow", "slow@acme.example"))
            await until(handler.asked.is_set, 10)
            written = time.monotonic()
            case_id = await outbox_rows(registry, ("Aki", "aki@acme.example"))
            [aki] = await until(lambda: _sent(registry, case_id), 15)
            waited = time.monotonic() - written
    finally:
        server.stop()
    assert handler.deliveries[message_id(str(aki["id"]))] == 1
    assert waited < 3, f"new mail waited {waited:.1f} s behind another's slow answer, with a sender idle"


async def _sent(engine: AsyncEngine, case_id: str) -> list[dict[str, Any]] | None:
    rows = await rows_of(engine, case_id)
    return rows if rows and all(r["status"] == "sent" for r in rows) else None


class Ticking:
    """A clock a second further on at every reading: what a sender records shows when it was read."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


async def test_each_message_of_a_batch_is_dated_when_it_was_sent_or_refused(
    registry: AsyncEngine, temporal: Client, tmp_path: Path,
) -> None:
    """The messages of a batch were all marked with the time the batch was claimed: `sent_at`, and the time a
    refused one's backoff counted from, said nothing of when each went. Each is dated after its own try."""
    port = free_port()
    server = serve(Picky(tmp_path / "mail", refuse=frozenset({"refused@acme.example"})), port)
    clock = Ticking()
    relay = MailRelay(registry, smtp_on(port), temporal, SIGNER, senders=1, batch=3, clock=clock)
    try:
        case_id = await outbox_rows(registry, ("Aki", "aki@acme.example"), ("Bo", "refused@acme.example"),
                                    ("Chie", "chie@acme.example"))
        claimed_at = clock.now + timedelta(seconds=1)  # the batch's first reading of the clock
        assert await relay.send_due() == 3
    finally:
        server.stop()
    rows = await rows_of(registry, case_id)
    tried = sorted(row["last_attempt_at"] for row in rows)
    assert len(set(tried)) == 3 and tried[0] > claimed_at, "each message dated after its own try"
    for row in rows:
        if row["status"] == "sent":
            assert row["sent_at"] == row["last_attempt_at"]
        else:
            assert row["next_attempt_at"] > row["last_attempt_at"] > claimed_at
