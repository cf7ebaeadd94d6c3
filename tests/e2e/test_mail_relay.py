"""Mail never blocks a case: the relay sends each outbox message on its own, retries what may go through
later, gives up on what never will (and says so on the case and to operators), over real SMTP servers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from contracts.case import workflow_id
from domain.audit import make_entry
from domain.model import Role
from infra import outbox
from infra.sme_registry import seed_demo_smes
from infra.smtp import message_id
from infra.startup import free_port
from infra.tables import audit_events, notifications
from services.mail_outbox import retry_message
from services.mail_relay import MailRelay
from tests.helpers.desk import Desk
from tests.helpers.mail import MailSink, Picky, serve
from tests.helpers.people import ADMIN, APPLICANT, COORDINATOR, SBIC, officer
from tests.helpers.relay import SIGNER, drain, outbox_rows, rows_of, smtp_on, until

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Clock:
    """The relay's idea of now, moved on by the test (what is due depends on it)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
async def plain_desk(http: httpx.AsyncClient, tokens: dict[tuple[Role, str], str], engine: AsyncEngine) -> Desk:
    """The real app and worker with no mail relay running: each test brings the relay it needs."""
    await seed_demo_smes(engine)
    return Desk(http, tokens)


@pytest.fixture
async def own_engine(registry: AsyncEngine) -> AsyncEngine:
    """An engine on a migrated database of the test's own (conftest's `registry`) for the tests whose relay runs
    alone: a relay sends everything due in its outbox, so what such a test counts (deliveries, messages handled)
    is its own, whatever mail other tests left pending in the session's database (a test that serves the app
    without a relay does)."""
    return registry


@pytest.fixture
def picky_port() -> int:
    return free_port()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "mail"


# -- what was seen ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("address", ["saburo@例え.jp", "saburo@xn--r8jz45g.jp"])
async def test_an_internationalised_domain_is_mailed_as_its_a_label(
    desk: Desk, engine: AsyncEngine, mail_sink: MailSink, address: str
) -> None:
    case = await desk.file(APPLICANT, contact={"name": "Saburo Test", "email": address, "language": "en"})
    await desk.ok(case, "relay", COORDINATOR, offices=[SBIC])
    rows = await until(lambda: _all_sent(engine, case["id"]))
    to_applicant = next(r for r in rows if r["recipient_email"] != "officer@sbic.example")
    assert mail_sink.handler.envelopes[f"<{to_applicant['id']}@case-desk>"] == ["saburo@xn--r8jz45g.jp"]
    assert {r["status"] for r in rows} == {"sent"}


async def _all_sent(engine: AsyncEngine, case_id: str) -> list[dict[str, Any]] | None:
    rows = await rows_of(engine, case_id)
    return rows if rows and all(r["status"] == "sent" for r in rows) else None


async def test_one_refused_recipient_never_holds_up_the_others_and_the_case_still_closes(
    plain_desk: Desk, engine: AsyncEngine, temporal: Client, folder: Path, picky_port: int,
) -> None:
    """The issue's "done when": a server that rejects one recipient with 550; the others get their mail, the
    case closes, its workflow completes, and the rejected message is undeliverable within a minute."""
    desk = plain_desk
    picky = Picky(folder, refuse=frozenset({"anna@acme.example"}))
    server = serve(picky, picky_port)
    relay = MailRelay(engine, smtp_on(picky_port), temporal, SIGNER, senders=2, permanent_tries=3)
    try:
        async with relay.running():
            case = await desk.file(APPLICANT)
            await desk.ok(case, "relay", COORDINATOR, offices=[SBIC])
            await desk.ok(case, "withdraw", APPLICANT, reason="found a partner elsewhere")
            handle = temporal.get_workflow_handle(workflow_id(case["id"]))
            assert await asyncio.wait_for(handle.result(), 10) == "withdrawn"  # it waits for no e-mail

            def settled(rows: list[dict[str, Any]]) -> bool:
                return bool(rows) and all(r["status"] in ("sent", "undeliverable") for r in rows) and any(
                    r["status"] == "undeliverable" for r in rows)

            rows = await until(lambda: _settled(engine, case["id"], settled), seconds=60)
            refused_ids = {r["id"] for r in rows if r["status"] == "undeliverable"}
            history = await until(lambda: _history_with(desk, case, refused_ids), seconds=30)
    finally:
        server.stop()
    refused = [r for r in rows if r["status"] == "undeliverable"]
    assert {r["recipient_email"] for r in refused} == {"anna@acme.example"}
    assert all(r["last_error"].startswith("550") and r["attempts"] == 3 for r in refused)
    others = [r for r in rows if r["status"] == "sent"]
    assert {r["recipient_email"] for r in others} >= {"officer@sbic.example", "sato@jetro.example"}
    assert all(picky.deliveries[f"<{r['id']}@case-desk>"] == 1 for r in others)
    undeliverable = [e for e in history if e["type"] == "mail_undeliverable"]
    assert {e["payload"]["message"] for e in undeliverable} == {r["id"] for r in refused}
    assert all(e["payload"]["code"] == "550" for e in undeliverable)
    assert all("anna" not in str(e) for e in undeliverable), "the trail cannot forget: no address on it"
    verified = (await desk.http.get(f"/api/cases/{case['id']}/history/verify",
                                    headers=desk.headers(COORDINATOR))).json()
    assert verified["valid"] is True


async def _settled(engine: AsyncEngine, case_id: str,
                   settled: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]] | None:
    rows = await rows_of(engine, case_id)
    return rows if settled(rows) else None


async def _history_with(desk: Desk, case: dict[str, Any], messages: set[str]) -> list[dict[str, Any]] | None:
    """The case's history once it tells of every one of `messages` being undeliverable."""
    response = await desk.http.get(f"/api/cases/{case['id']}/history", headers=desk.headers(COORDINATOR))
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["events"]
    told = {e["payload"]["message"] for e in found if e["type"] == "mail_undeliverable"}
    return found if told == messages else None


# -- each message its own fate (the relay driven step by step, on a clock the test moves) ----------------


async def test_a_server_that_says_451_for_a_while_gets_the_message_later_exactly_once(
    own_engine: AsyncEngine, temporal: Client, folder: Path, picky_port: int
) -> None:
    picky = Picky(folder, busy=frozenset({"busy@acme.example"}), busy_times=4)
    server = serve(picky, picky_port)
    clock = Clock()
    relay = MailRelay(own_engine, smtp_on(picky_port), temporal, SIGNER, permanent_tries=2, clock=clock)
    try:
        case_id = await outbox_rows(own_engine, ("Busy", "busy@acme.example"), ("Calm", "calm@acme.example"))
        await drain(relay)
        first = {r["recipient_email"]: r for r in await rows_of(own_engine, case_id)}
        assert first["calm@acme.example"]["status"] == "sent"
        busy = first["busy@acme.example"]
        assert (busy["status"], busy["attempts"], busy["last_error"]) == ("pending", 1, "451 4.3.2 try again later")
        for _ in range(4):  # 4xx is transient: never undeliverable however often (permanent_tries is 2)
            clock.advance(minutes=10)
            await drain(relay)
    finally:
        server.stop()
    after = {r["recipient_email"]: r for r in await rows_of(own_engine, case_id)}
    assert (after["busy@acme.example"]["status"], after["busy@acme.example"]["attempts"]) == ("sent", 5)
    assert sorted(picky.deliveries.values()) == [1, 1]


async def test_mail_waits_out_ten_minutes_of_a_dead_server_and_arrives_once(
    own_engine: AsyncEngine, temporal: Client, folder: Path, picky_port: int
) -> None:
    clock = Clock()
    relay = MailRelay(own_engine, smtp_on(picky_port), temporal, SIGNER, clock=clock,
                      longest_backoff=timedelta(minutes=2))
    case_id = await outbox_rows(own_engine, ("Anna", "anna@acme.example"), ("Kenji", "sato@jetro.example"))
    started = clock.now
    while clock.now - started < timedelta(minutes=10):  # nobody listens on the port
        await drain(relay)
        clock.advance(seconds=15)
    waiting = await rows_of(own_engine, case_id)
    assert {r["status"] for r in waiting} == {"pending"}
    assert all(r["attempts"] >= 6 and "connect" in r["last_error"].lower() for r in waiting)
    assert all(r["next_attempt_at"] - r["last_attempt_at"] == timedelta(minutes=2) for r in waiting), "backoff caps"
    handler = Picky(folder)
    server = serve(handler, picky_port)
    try:
        clock.advance(minutes=2)
        await drain(relay)
    finally:
        server.stop()
    sent = await rows_of(own_engine, case_id)
    assert {r["status"] for r in sent} == {"sent"}
    assert {handler.deliveries[f"<{r['id']}@case-desk>"] for r in sent} == {1}


@pytest.mark.parametrize(("name", "address", "why"), [
    ("Saburo Test\r\nBcc: someone@attacker.example", "saburo@acme.example", "CR or LF"),
    ("Jürgen", "jürgen@acme.example", "SMTPUTF8"),
    ("Bad Domain", "x@exa_mple.例え", "IDNA"),
])
async def test_a_message_that_can_never_be_sent_is_undeliverable_after_bounded_tries(
    own_engine: AsyncEngine, temporal: Client, folder: Path, picky_port: int, name: str, address: str, why: str
) -> None:
    handler = Picky(folder)
    server = serve(handler, picky_port)
    clock = Clock()
    relay = MailRelay(own_engine, smtp_on(picky_port), temporal, SIGNER, permanent_tries=3, clock=clock)
    try:
        case_id = await outbox_rows(own_engine, (name, address), ("Anna", "anna@acme.example"))
        for _ in range(5):
            await drain(relay)
            clock.advance(minutes=1)
    finally:
        server.stop()
    rows = {r["recipient_email"]: r for r in await rows_of(own_engine, case_id)}
    poisoned = rows[address]
    assert (poisoned["status"], poisoned["attempts"]) == ("undeliverable", 3)
    assert why in poisoned["last_error"]
    assert (rows["anna@acme.example"]["status"], rows["anna@acme.example"]["attempts"]) == ("sent", 1)
    assert len(handler.deliveries) == 1, "nothing of the poisoned message reached the server"


async def relay_once(engine: AsyncEngine, temporal: Client, folder: Path, port: int, *people: tuple[str, str],
                     smtputf8: bool = False) -> tuple[Picky, list[dict[str, Any]]]:
    """Messages to `people` for a case of their own, sent once by a relay to a real server; what it got, the rows."""
    handler = Picky(folder)
    server = serve(handler, port, smtputf8=smtputf8)
    try:
        case_id = await outbox_rows(engine, *people)
        await drain(MailRelay(engine, smtp_on(port), temporal, SIGNER))
    finally:
        server.stop()
    return handler, await rows_of(engine, case_id)


async def test_a_non_ascii_local_part_goes_to_a_server_that_announces_smtputf8(
    own_engine: AsyncEngine, temporal: Client, folder: Path, picky_port: int
) -> None:
    handler, [row] = await relay_once(own_engine, temporal, folder, picky_port, ("Jürgen", "jürgen@acme.example"),
                                      smtputf8=True)
    assert row["status"] == "sent"
    assert handler.envelopes[f"<{row['id']}@case-desk>"] == ["jürgen@acme.example"]


async def test_mail_to_an_erased_address_is_cancelled_never_sent(
    own_engine: AsyncEngine, temporal: Client, folder: Path, picky_port: int
) -> None:
    handler, [row] = await relay_once(own_engine, temporal, folder, picky_port, ("[redacted]", "[redacted]"))
    assert row["status"] == "cancelled" and "erased" in row["last_error"]
    assert handler.deliveries == {}


@pytest.mark.long
async def test_a_thousand_messages_with_one_poison_among_them(
    own_engine: AsyncEngine, temporal: Client, folder: Path, picky_port: int
) -> None:
    handler = Picky(folder)
    server = serve(handler, picky_port)
    relay = MailRelay(own_engine, smtp_on(picky_port), temporal, SIGNER, senders=4, permanent_tries=3)
    people = [(f"Person {i}", f"person{i}@acme.example") for i in range(1000)]
    people[500] = ("Poison\r\nBcc: x@attacker.example", "poison@acme.example")
    try:
        case_id = await outbox_rows(own_engine, *people)
        async with relay.running():
            rows = await until(lambda: _settled(own_engine, case_id, lambda rows: all(
                r["status"] != "pending" for r in rows)), seconds=180)
    finally:
        server.stop()
    by_status: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_status.setdefault(row["status"], []).append(row)
    assert len(by_status["sent"]) == 999
    assert [r["recipient_email"] for r in by_status["undeliverable"]] == ["poison@acme.example"]
    assert {r["attempts"] for r in by_status["sent"]} == {1}, "no message waited behind the poison"
    assert set(handler.deliveries.values()) == {1} and len(handler.deliveries) == 999


async def test_messages_claimed_together_each_keep_their_own_fate(
    own_engine: AsyncEngine, temporal: Client, folder: Path, picky_port: int
) -> None:
    """A sender claims a few due messages in one transaction (issue 15): a refused one among them is counted
    and waits for its own next try, the others are sent and marked sent, and what was not claimed stays due."""
    handler = Picky(folder, refuse=frozenset({"refused@acme.example"}))
    server = serve(handler, picky_port)
    relay = MailRelay(own_engine, smtp_on(picky_port), temporal, SIGNER, senders=1, batch=3, permanent_tries=3)
    try:
        case_id = await outbox_rows(own_engine, ("Aki", "aki@acme.example"), ("Bo", "refused@acme.example"),
                                    ("Chie", "chie@acme.example"), ("Dai", "dai@acme.example"))
        async with own_engine.begin() as conn:  # the refused one is due longest: always among those claimed
            await conn.execute(update(notifications).where(notifications.c.recipient_email == "refused@acme.example")
                               .values(next_attempt_at=datetime.now(UTC) - timedelta(minutes=2)))
        assert await relay.send_due() == 3
    finally:
        server.stop()
    rows = {r["recipient_email"]: r for r in await rows_of(own_engine, case_id)}
    refused = rows.pop("refused@acme.example")
    assert (refused["status"], refused["attempts"], refused["sent_at"]) == ("pending", 1, None)
    assert refused["last_error"].startswith("550"), refused["last_error"]
    assert refused["next_attempt_at"] > refused["last_attempt_at"], "it waits for its own next try"
    sent = [row for row in rows.values() if row["status"] == "sent"]
    assert len(sent) == 2 and {row["attempts"] for row in sent} == {1}
    assert {message_id(str(row["id"])) for row in sent} == set(handler.deliveries)
    assert set(handler.deliveries.values()) == {1}
    (left,) = [row for row in rows.values() if row["status"] != "sent"]
    assert (left["status"], left["attempts"], left["sent_at"]) == ("pending", 0, None)


# -- operators see it and fix it --------------------------------------------------------------------------


async def test_operators_see_undeliverable_mail_and_retry_it_once_fixed(
    http: httpx.AsyncClient, tokens: dict[tuple[Role, str], str], engine: AsyncEngine, temporal: Client,
    folder: Path, picky_port: int,
) -> None:
    desk = Desk(http, tokens)
    refusing = Picky(folder, refuse=frozenset({"gone@acme.example"}))
    server = serve(refusing, picky_port)
    clock = Clock()
    relay = MailRelay(engine, smtp_on(picky_port), temporal, SIGNER, permanent_tries=1, clock=clock)
    try:
        case_id = await outbox_rows(engine, ("Gone", "gone@acme.example"))
        await drain(relay)
    finally:
        server.stop()
    listed = await http.get("/api/operations/mail", params={"status": "undeliverable", "case": case_id},
                            headers=desk.headers(ADMIN))
    assert listed.status_code == 200, listed.text
    [message] = listed.json()["messages"]
    assert (message["status"], message["attempts"], message["next_attempt_at"]) == ("undeliverable", 1, None)
    assert message["last_error"].startswith("550 5.1.1")
    metrics = (await http.get("/metrics")).text
    assert 'casedesk_outbox{status="undeliverable"}' in metrics
    assert "casedesk_outbox_oldest_pending_seconds" in metrics
    for person in (APPLICANT, COORDINATOR, officer(SBIC)):
        refused = await http.get("/api/operations/mail", headers=desk.headers(person))
        assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
    bad = await http.get("/api/operations/mail", params={"status": "lost"}, headers=desk.headers(ADMIN))
    assert bad.status_code == 422 and "status" in bad.text

    fixed = Picky(folder)  # the mailbox exists again: the operator retries
    server = serve(fixed, picky_port)
    try:
        assert await retry_message(engine, message["id"]) == "undeliverable"
        clock.advance(minutes=1)  # the retry is due now, by the wall clock
        await drain(relay)
    finally:
        server.stop()
    [row] = await rows_of(engine, case_id)
    assert (row["status"], row["attempts"]) == ("sent", 1)
    assert fixed.deliveries[f"<{row['id']}@case-desk>"] == 1


async def test_a_corrected_contact_gets_the_mail_the_old_address_could_not(
    plain_desk: Desk, engine: AsyncEngine, temporal: Client, folder: Path, picky_port: int,
) -> None:
    desk = plain_desk
    picky = Picky(folder, refuse=frozenset({"anna@acme.example"}))
    server = serve(picky, picky_port)
    relay = MailRelay(engine, smtp_on(picky_port), temporal, SIGNER, permanent_tries=1)
    try:
        async with relay.running():
            case = await desk.file(APPLICANT)
            await desk.ok(case, "relay", COORDINATOR, offices=[SBIC])
            [refused] = await until(lambda: _undeliverable(engine, case["id"]))
            new_contact = {"name": "Anna Schmidt-Berg", "email": "anna.berg@acme.example", "language": "ja"}
            for person in (officer(SBIC),):  # only the applicant, or JETRO for it, may correct it
                assert (await desk.act(case, "update_contact", person, **new_contact)).status_code == 403
            for name, email in (("Anna", "not an address"), ("Anna\r\nBcc: x@attacker.example", "a@acme.example"),
                                ("Jürgen", "jürgen@acme.example")):  # the server takes no SMTPUTF8 here
                wrong = await desk.act(case, "update_contact", APPLICANT, name=name, email=email)
                assert wrong.status_code == 422, wrong.text
                assert wrong.json()["errors"][0]["loc"][-1] in ("name", "email"), wrong.text
            updated = await desk.ok(case, "update_contact", APPLICANT, **new_contact)
            row = await until(lambda: _sent_row(engine, refused["id"]))
    finally:
        server.stop()
    assert updated["request"]["contact"]["email"] == "anna.berg@acme.example"
    assert (row["recipient_email"], row["recipient_name"]) == ("anna.berg@acme.example", "Anna Schmidt-Berg")
    assert picky.envelopes[f"<{row['id']}@case-desk>"] == ["anna.berg@acme.example"]
    events = (await desk.http.get(f"/api/cases/{case['id']}/history", headers=desk.headers(COORDINATOR))).json()
    [corrected] = [e for e in events["events"] if e["type"] == "update_contact"]
    assert "contact" not in corrected["payload"], "personal data is kept apart, erasable"
    assert corrected["personal"]["contact"]["email"] == "anna.berg@acme.example" and corrected["personal_digest"]
    verified = await desk.http.get(f"/api/cases/{case['id']}/history/verify", headers=desk.headers(COORDINATOR))
    assert verified.json()["valid"] is True


async def _undeliverable(engine: AsyncEngine, case_id: str) -> list[dict[str, Any]] | None:
    found = [r for r in await rows_of(engine, case_id) if r["status"] == "undeliverable"]
    return found or None


async def _sent_row(engine: AsyncEngine, message_id: str) -> dict[str, Any] | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(notifications).where(notifications.c.id == message_id))).mappings().one()
    return dict(row) if row["status"] == "sent" else None


# -- told once per failure, by any number of relays ---------------------------------------------------------


async def _row(engine: AsyncEngine, message_id: str) -> dict[str, Any]:
    async with engine.connect() as conn:
        return dict((await conn.execute(select(notifications).where(notifications.c.id == message_id)))
                    .mappings().one())


async def _undeliverable_events(engine: AsyncEngine, case_id: str, message_id: str) -> int:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(audit_events.c.payload).where(
            audit_events.c.case_id == case_id, audit_events.c.type == "mail_undeliverable"))).scalars().all()
    return sum(1 for p in rows if p.get("message") == message_id)


async def _bounced(engine: AsyncEngine, case_id: str) -> str:
    """The id of a case's closing message that became undeliverable (and is not yet on its trail)."""
    message_id, now = str(uuid.uuid4()), datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(insert(notifications).values(
            id=message_id, case_id=case_id, seq=1, template="closed", recipient_name="Anna",
            recipient_email="anna@acme.example", language="en", subject="s", body="b", created_at=now,
            next_attempt_at=now, status="undeliverable", attempts=3, last_error="550 5.1.1 gone",
            last_attempt_at=now))
    return message_id


async def test_two_relays_telling_a_finished_case_at_once_put_one_event_on_its_trail(
    plain_desk: Desk, engine: AsyncEngine, temporal: Client,
) -> None:
    """Every worker runs a relay with a reporter; two of them may see the same unreported message at once. For a
    case whose workflow has finished, both append to its trail, and `reported_at`, read under the case row's
    lock, lets only the first one through."""
    desk = plain_desk
    case = await desk.file(APPLICANT)
    await desk.ok(case, "withdraw", APPLICANT, reason="changed our mind")
    await asyncio.wait_for(temporal.get_workflow_handle(workflow_id(case["id"])).result(), 10)
    message_id = await _bounced(engine, case["id"])
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
    """update_contact (or `alliance mail retry`) makes an undeliverable message pending again with reported_at
    cleared; if the new address fails too, that second failure is a second event on the trail (the workflow
    tells failures apart by when they happened, not only by message)."""
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
    """The nightly verification mails auditors under the oversight chain's id, which has neither a workflow nor a
    `cases` row: an undeliverable alert has no trail to go on, is marked told, and never stands in front of a
    case's undeliverable mail (`unreported()` takes the 50 oldest)."""
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


async def test_a_finished_case_whose_trail_ends_in_a_forged_event_gets_nothing_chained_onto_it(
    plain_desk: Desk, engine: AsyncEngine, temporal: Client,
) -> None:
    """Someone without the key appends an event to a closed case's trail; the relay, asked to put a bounce on that
    trail, does not sign an event chained onto it (its signature would vouch for the forgery), and verification
    still names the forged event."""
    desk = plain_desk
    case = await desk.file(APPLICANT)
    await desk.ok(case, "withdraw", APPLICANT, reason="changed our mind")
    await asyncio.wait_for(temporal.get_workflow_handle(workflow_id(case["id"])).result(), 10)
    async with engine.begin() as conn:
        last = (await conn.execute(select(audit_events).where(audit_events.c.case_id == case["id"])
                                   .order_by(audit_events.c.seq.desc()).limit(1))).mappings().one()
        forged = make_entry(case_id=case["id"], seq=last["seq"] + 1, type="add_note", actor=last["actor"],
                            at=datetime.now(UTC), stage_before=last["stage_after"], stage_after=last["stage_after"],
                            payload={"text": "reopened by phone"}, prev_hash=last["hash"])
        await conn.execute(insert(audit_events).values(**forged.model_dump()))
    message_id = await _bounced(engine, case["id"])
    [told] = [m for m in await outbox.unreported(engine) if m.id == message_id]
    await MailRelay(engine, smtp_on(free_port()), temporal, SIGNER).report(told)
    assert await _undeliverable_events(engine, case["id"], message_id) == 0
    verified = (await desk.http.get(f"/api/cases/{case['id']}/history/verify",
                                    headers=desk.headers(COORDINATOR))).json()
    assert (verified["valid"], verified["first_broken_seq"]) == (False, forged.seq)
