"""Notifications: the outbox is written with the event, delivered over real SMTP, never lost or doubled."""

from __future__ import annotations

import asyncio
import email
import email.policy
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from contracts.case import workflow_id
from domain.model import Office
from infra.tables import notifications
from tests.helpers.desk import Desk
from tests.helpers.mail import MailSink
from tests.helpers.people import APPLICANT, COORDINATOR, SBIC, SJ, officer
from tests.helpers.scenarios import to_investment_decision


async def outbox(sessions: async_sessionmaker[AsyncSession], case_id: str) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.execute(
            select(notifications).where(notifications.c.case_id == case_id).order_by(notifications.c.seq)
        )
        return [dict(r) for r in rows.mappings()]


async def all_sent(
    sessions: async_sessionmaker[AsyncSession], case_id: str, seconds: float = 30
) -> list[dict[str, Any]]:
    """The case's outbox once every row is sent (fails after `seconds`)."""
    rows: list[dict[str, Any]] = []
    for _ in range(int(seconds * 10)):
        rows = await outbox(sessions, case_id)
        if rows and all(r["sent_at"] is not None for r in rows):
            return rows
        await asyncio.sleep(0.1)
    raise AssertionError(f"mail still waiting: {[r['subject'] for r in rows if r['sent_at'] is None]}")


def received(sink: MailSink, case_id: str) -> list[email.message.EmailMessage]:
    messages = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in sink.folder.glob("*.eml")
    ]
    return [m for m in messages if m["X-Case-Id"] == case_id]


async def test_who_is_told_what_in_their_language(
    desk: Desk, sessions: async_sessionmaker[AsyncSession], mail_sink: MailSink
) -> None:
    case = await desk.file(APPLICANT)
    await desk.ok(case, "relay", COORDINATOR, offices=[SJ, SBIC])
    await desk.ok(case, "add_note", COORDINATOR, text="the CFO is hard to reach")
    await desk.ok(case, "accept_case", officer(SBIC))
    rows = await all_sent(sessions, case["id"])

    told = {(r["template"], r["recipient_email"]) for r in rows}
    assert told == {
        ("relay", "officer@sme_support_japan.example"),
        ("relay", "officer@sbic.example"),
        ("relay", "anna@acme.example"),
        ("accept_case", "anna@acme.example"),
        ("accept_case", "sato@jetro.example"),
    }
    by_recipient = {(m["To"].addresses[0].addr_spec, m["Subject"]) for m in received(mail_sink, case["id"])}
    reference = case["reference"]
    assert ("sato@jetro.example", f"{reference} が受理されました") in by_recipient  # Kenji reads Japanese
    assert ("anna@acme.example", f"{reference} has been accepted") in by_recipient
    bodies = " ".join(m.get_body(("plain",)).get_content() for m in received(mail_sink, case["id"]))  # type: ignore[union-attr]
    assert "CFO" not in bodies  # internal notes are never mailed


async def test_mail_waits_out_a_dead_smtp_server_and_arrives_exactly_once(
    desk: Desk, sessions: async_sessionmaker[AsyncSession], mail_sink: MailSink, temporal: Client
) -> None:
    mail_sink.stop()
    try:
        case = await to_investment_decision(desk)
        await desk.ok(case, "withdraw", APPLICANT, reason="decided against it")
        # The case is closed and its workflow done at once, its mail still waiting for the server.
        handle = temporal.get_workflow_handle(workflow_id(case["id"]))
        assert await asyncio.wait_for(handle.result(), 10) == "withdrawn"
        waiting = await outbox(sessions, case["id"])
        assert waiting and all(r["sent_at"] is None and r["status"] == "pending" for r in waiting)
    finally:
        mail_sink.start()
    rows = await all_sent(sessions, case["id"], seconds=60)
    ids = {f"<{r['id']}@case-desk>" for r in rows}
    assert {mail_sink.handler.deliveries[i] for i in ids} == {1}
    assert {m["Message-ID"] for m in received(mail_sink, case["id"])} == ids
    assert {r["template"] for r in rows} >= {"relay", "accept_case", "propose_investment", "closed"}
    assert {r["status"] for r in rows} == {"sent"}
    assert all(r["recipient_email"] != "anna@acme.example" for r in rows if r["template"] == "propose_investment")


async def test_offices_not_relayed_are_never_mailed(desk: Desk, sessions: async_sessionmaker[AsyncSession]) -> None:
    case = await desk.file(APPLICANT)
    await desk.ok(case, "relay", COORDINATOR, offices=[SBIC])
    rows = await all_sent(sessions, case["id"])
    assert not any(Office.SHOKO_CHUKIN_BANK in r["recipient_email"] for r in rows)
