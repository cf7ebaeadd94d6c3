"""Breaker's findings on the mail relay (issue 17): an undeliverable message told twice.

Kept apart from test_mail_relay.py so the lead can take or drop them; each fails on 5c3052e."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from contracts.case import workflow_id
from domain.model import Role
from infra import outbox
from infra.settings import Settings
from infra.sme_registry import seed_demo_smes
from infra.smtp import SmtpSettings
from infra.startup import free_port
from infra.tables import audit_events, notifications
from services.mail_relay import MailRelay
from tests.helpers.desk import Desk
from tests.helpers.mail import Picky, serve
from tests.helpers.people import APPLICANT, COORDINATOR, SBIC
from tests.helpers.support import PEPPER

SIGNER = Settings(token_pepper=PEPPER).audit_keys.signer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
async def plain_desk(http: httpx.AsyncClient, tokens: dict[tuple[Role, str], str], engine: AsyncEngine) -> Desk:
    await seed_demo_smes(engine)
    return Desk(http, tokens)


def smtp_on(port: int) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=port, sender="Case Desk <case-desk@localhost>", timeout=5)


async def until(check: Callable[[], Any], seconds: float = 60) -> Any:
    for _ in range(int(seconds * 10)):
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {seconds} s")


async def _row(engine: AsyncEngine, message_id: str) -> dict[str, Any]:
    async with engine.connect() as conn:
        return dict((await conn.execute(select(notifications).where(notifications.c.id == message_id)))
                    .mappings().one())


async def _undeliverable_events(engine: AsyncEngine, case_id: str, message_id: str) -> int:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(audit_events.c.payload).where(
            audit_events.c.case_id == case_id, audit_events.c.type == "mail_undeliverable"))).scalars().all()
    return sum(1 for p in rows if p.get("message") == message_id)


async def test_two_relays_telling_a_finished_case_at_once_put_one_event_on_its_trail(
    plain_desk: Desk, engine: AsyncEngine, temporal: Client,
) -> None:
    """Every worker runs a relay with a reporter; two of them may see the same unreported message at once.
    For a case whose workflow has finished, both fall back to append_to_closed_case, which never looks at
    `reported_at` under its lock: the trail gets the same message twice."""
    desk = plain_desk
    case = await desk.file(APPLICANT)
    await desk.ok(case, "withdraw", APPLICANT, reason="changed our mind")
    await asyncio.wait_for(temporal.get_workflow_handle(workflow_id(case["id"])).result(), 10)
    message_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(insert(notifications).values(
            id=message_id, case_id=case["id"], seq=1, template="closed", recipient_name="Anna",
            recipient_email="anna@acme.example", language="en", subject="s", body="b", created_at=now,
            next_attempt_at=now, status="undeliverable", attempts=3, last_error="550 5.1.1 gone",
            last_attempt_at=now))
    [told] = [m for m in await outbox.unreported(engine) if m.id == message_id]
    first = MailRelay(engine, smtp_on(free_port()), temporal, SIGNER)
    second = MailRelay(engine, smtp_on(free_port()), temporal, SIGNER)
    await asyncio.gather(first.report(told), second.report(told))
    assert await _undeliverable_events(engine, case["id"], message_id) == 1
    verified = (await desk.http.get(f"/api/cases/{case['id']}/history/verify",
                                    headers=desk.headers(COORDINATOR))).json()
    assert verified["valid"] is True


async def test_mail_undeliverable_again_after_update_contact_reaches_the_trail(
    plain_desk: Desk, engine: AsyncEngine, temporal: Client, tmp_path: Path,
) -> None:
    """update_contact (or `alliance mail retry`) makes an undeliverable message pending again with
    reported_at cleared. If the new address fails too, the relay signals the running workflow again, but the
    workflow's `reported` list already holds the message id and returns without recording: reported_at stays
    NULL, the relay re-signals every `report_every` (one signal in history a minute) and the second failure
    never reaches the trail until the run continues as new."""
    desk = plain_desk
    port = free_port()
    picky = Picky(tmp_path / "mail", refuse=frozenset({"anna@acme.example", "anna.berg@acme.example"}))
    server = serve(picky, port)
    relay = MailRelay(engine, smtp_on(port), temporal, SIGNER, senders=2, permanent_tries=1,
                      report_every=timedelta(seconds=1), idle_seconds=0.1)
    try:
        async with relay.running():
            case = await desk.file(APPLICANT)
            await desk.ok(case, "relay", COORDINATOR, offices=[SBIC])

            async def refused_and_told() -> dict[str, Any] | None:
                async with engine.connect() as conn:
                    rows = (await conn.execute(select(notifications).where(
                        notifications.c.case_id == case["id"], notifications.c.status == "undeliverable",
                        notifications.c.reported_at.is_not(None)))).mappings().all()
                return dict(rows[0]) if rows else None

            first = await until(refused_and_told, 30)
            await desk.ok(case, "update_contact", APPLICANT, name="Anna Berg", email="anna.berg@acme.example",
                          language="en")
            await until(lambda: _is(engine, first["id"], "undeliverable"), 30)
            # the relay tells every second: within 15 s the second failure should be on the trail
            await until(lambda: _told(engine, first["id"]), 15)
    finally:
        server.stop()
    assert await _undeliverable_events(engine, case["id"], first["id"]) == 2


async def _is(engine: AsyncEngine, message_id: str, status: str) -> bool:
    row = await _row(engine, message_id)
    return bool(row["status"] == status and row["recipient_email"] == "anna.berg@acme.example")


async def _told(engine: AsyncEngine, message_id: str) -> bool:
    return (await _row(engine, message_id))["reported_at"] is not None


async def test_undeliverable_audit_alerts_never_block_the_reporting_of_a_case_s_mail(
    plain_desk: Desk, engine: AsyncEngine, temporal: Client,
) -> None:
    """The nightly verification mails auditors under the oversight chain's id, which has neither a workflow nor
    a `cases` row: an undeliverable alert is never reported (a warning a minute, for ever). `unreported()` takes
    the 50 oldest, so once 50 such alerts exist no case's undeliverable mail reaches its trail any more."""
    from domain.verification import OVERSIGHT_CHAIN

    desk = plain_desk
    case = await desk.file(APPLICANT)
    await desk.ok(case, "withdraw", APPLICANT, reason="changed our mind")
    await asyncio.wait_for(temporal.get_workflow_handle(workflow_id(case["id"])).result(), 10)
    long_ago = datetime.now(UTC) - timedelta(days=30)
    now = datetime.now(UTC)

    def undeliverable(case_id: str, at: datetime) -> dict[str, Any]:
        return {"id": str(uuid.uuid4()), "case_id": case_id, "seq": 1, "template": "audit_broken",
                "recipient_name": "Auditor", "recipient_email": "gone@oversight.example", "language": "en",
                "subject": "s", "body": "b", "created_at": at, "next_attempt_at": at, "status": "undeliverable",
                "attempts": 3, "last_error": "550 5.1.1 gone", "last_attempt_at": at}

    mine = undeliverable(case["id"], now)
    async with engine.begin() as conn:
        await conn.execute(insert(notifications), [undeliverable(OVERSIGHT_CHAIN, long_ago) for _ in range(50)])
        await conn.execute(insert(notifications), [mine])
    relay = MailRelay(engine, smtp_on(free_port()), temporal, SIGNER, senders=1, idle_seconds=0.1)
    async with relay.running():
        await until(lambda: _told(engine, mine["id"]), 15)
