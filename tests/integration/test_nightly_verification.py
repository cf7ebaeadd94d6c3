"""The nightly verification: a Temporal Schedule on the dev server verifies every chain, records what it
found in the oversight chain, and e-mails the auditors when a chain is broken."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.verification import AuditVerification
from app.bootstrap import mail_relay
from app.schedules import ensure_verification_schedule
from contracts.case import AUDIT_VERIFICATION_SCHEDULE
from contracts.errors import STORED_EVENT_INVALID
from domain.audit import GENESIS_HASH, make_entry
from domain.chain_verification import verify_chain
from domain.model import OVERSIGHT, Role
from domain.verification import OVERSIGHT_CHAIN, VERIFIED_EVENT, VerificationSummary
from infra.audit_trail import stored_entries
from infra.checkpoint_sink import undelivered
from infra.checkpoints import anchor_legacy_trail, take_checkpoint
from infra.db import create_engine, session_factory
from infra.settings import Settings
from infra.tables import audit_events
from infra.users import NewUser, add_user
from tests.helpers.archive import serving_archive
from tests.helpers.mail import MailSink
from tests.helpers.support import PEPPER
from tests.helpers.tampering import damage_rows
from workers.case_worker import build_worker


@pytest.fixture
async def trail(migrated_database: str, settings: Settings) -> AsyncIterator[AsyncEngine]:
    """A database of its own, with two three-event chains (unsigned, from before signing, held by the first
    checkpoint as a worker's start takes it) and an auditor who has an e-mail address."""
    engine = create_engine(settings, migrated_database)
    await add_user(session_factory(engine), NewUser("Mei Aoki", Role.AUDITOR, OVERSIGHT, "mei@oversight.example"),
                   PEPPER)
    start = datetime(2026, 4, 1, tzinfo=UTC)
    async with engine.begin() as conn:
        for _ in range(2):
            case_id, prev = str(uuid.uuid4()), GENESIS_HASH
            for seq in (1, 2, 3):
                entry = make_entry(case_id=case_id, seq=seq, type="add_note", actor={"id": "u1", "role": "auditor"},
                                   at=start + timedelta(hours=seq), stage_before="screening",
                                   stage_after="screening", payload={"text": f"note {seq}"}, prev_hash=prev)
                await conn.execute(insert(audit_events).values(**entry.model_dump()))
                prev = entry.hash
    assert await anchor_legacy_trail(engine, settings.audit_keys, None, start) is not None
    yield engine
    await engine.dispose()


async def run_once(client: Client) -> VerificationSummary:
    """Trigger the Schedule now and wait for the verification it starts."""
    handle = client.get_schedule_handle(AUDIT_VERIFICATION_SCHEDULE)
    before = len((await handle.describe()).info.recent_actions)
    await handle.trigger()
    for _ in range(200):
        actions = (await handle.describe()).info.recent_actions
        if len(actions) > before:
            started = actions[-1].action
            workflow_id = started.workflow_id  # type: ignore[attr-defined]
            result = await client.get_workflow_handle(workflow_id, result_type=VerificationSummary).result()
            assert isinstance(result, VerificationSummary)
            return result
        await asyncio.sleep(0.1)
    raise AssertionError("the Schedule started nothing")


async def test_the_schedule_verifies_records_and_tells_the_auditors(
    trail: AsyncEngine, dev_server: WorkflowEnvironment, settings: Settings, mail_sink: MailSink, tmp_path: Path
) -> None:
    client, queue = dev_server.client, f"verify-{uuid.uuid4()}"
    await ensure_verification_schedule(client, "30 2 * * *", queue)
    await ensure_verification_schedule(client, "0 3 * * *", queue)  # a second start changes it, adds none
    try:
        described = await client.get_schedule_handle(AUDIT_VERIFICATION_SCHEDULE).describe()
        calendar = described.schedule.spec.calendars[0]
        assert ([h.start for h in calendar.hour], [m.start for m in calendar.minute]) == ([3], [0])
        assert described.schedule.spec.time_zone_name == "Asia/Tokyo"
        log = tmp_path / "checkpoints.log"
        async with (
            build_worker(client, queue, trail, keys=settings.audit_keys, checkpoint_log=log),
            mail_relay(settings, trail, client).running(),
        ):
            intact = await run_once(client)
            assert (intact.chains, intact.events, intact.broken) == (2, 6, [])

            async with trail.begin() as conn:  # as the database owner, with the guard off for a moment
                await conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete"))
                victim = (await conn.execute(text(
                    "UPDATE audit_events SET payload = '{\"text\": \"forged\"}' WHERE seq = 2 AND case_id = "
                    "(SELECT min(case_id::text)::uuid FROM audit_events WHERE case_id <> :oversight) "
                    "RETURNING case_id::text"), {"oversight": OVERSIGHT_CHAIN})).scalar_one()
                await conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete"))
            broken = await run_once(client)
            to_auditor = await mail_to(mail_sink, OVERSIGHT_CHAIN)
    finally:
        await ensure_verification_schedule(client, "", queue)

    assert [(b.case_id, b.first_broken_seq) for b in broken.broken] == [(victim, 2)]
    assert broken.chains == 3, "the oversight chain with the first result is verified too"
    oversight = await stored_entries(session_factory(trail), OVERSIGHT_CHAIN)
    assert [e.type for e in oversight] == [VERIFIED_EVENT, VERIFIED_EVENT]
    assert verify_chain(oversight, settings.audit_keys.keyring).valid
    assert verify_chain(oversight, settings.audit_keys.keyring).signed == 2, "the desk signs its own results"
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(c["id"], c["cases"], c["verified"]) for c in logged] == [(2, 3, True), (3, 2, True)], (
        "each run anchors the heads it found intact (and the oversight chain's new one), not the forged chain's")
    assert logged[1]["prev"] == logged[0]["digest"]
    assert oversight[1].payload["broken"][0]["case_id"] == victim

    assert [m["To"].addresses[0].addr_spec for m in to_auditor] == ["mei@oversight.example"]
    assert victim in to_auditor[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    with pytest.raises(RPCError):
        await client.get_schedule_handle(AUDIT_VERIFICATION_SCHEDULE).describe()


async def mail_to(sink: MailSink, case_id: str, seconds: float = 30) -> list[email.message.EmailMessage]:
    """The messages about `case_id` the sink received, once there is one (the relay sends them)."""
    for _ in range(int(seconds * 10)):
        mails = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
                 for p in sink.folder.glob("*.eml")]
        found = [m for m in mails if m["X-Case-Id"] == case_id]
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"no mail about {case_id} within {seconds} s")


async def test_the_nightly_run_sends_the_checkpoints_taken_before_the_url_was_set(
    trail: AsyncEngine, settings: Settings
) -> None:
    """A checkpoint taken while AUDIT_CHECKPOINT_URL was unset reaches the target at the next nightly run, with the
    verified checkpoint that run signs (a real HTTP server; the activity run as Temporal runs it)."""
    early = await take_checkpoint(trail, settings.audit_keys, None, datetime.now(UTC))
    with serving_archive() as archive:
        url = archive.url("/checkpoints/{id}")
        nightly = AuditVerification(trail, settings.audit_keys, None, url)
        summary = await ActivityEnvironment().run(nightly.verify_audit_trail, "run-backlog")
        assert summary.intact
        paths = [path for _, path, _ in archive.received]
    # its own first, then the rest: the first (the legacy anchor, taken before any URL) and the early one
    assert paths == [f"/checkpoints/{early.id + 1}", "/checkpoints/1", f"/checkpoints/{early.id}"]
    assert await undelivered(trail, url) == []


@pytest.mark.parametrize(("loosen", "statement", "why"), [
    ("hash", "UPDATE audit_events SET hash = NULL WHERE case_id = :id", "its hash is NULL"),
    (None, "UPDATE audit_events SET actor = '[]' WHERE case_id = :id", "its actor is not a JSON object"),
    (None, "UPDATE audit_events SET payload = '{\"run\": \"run-again\"}' WHERE case_id = :id",
     "its payload is not a verification's result"),
], ids=["hash", "actor", "payload"])
async def test_a_retried_run_that_finds_its_result_damaged_refuses_it_for_good(
    trail: AsyncEngine, settings: Settings, loosen: str | None, statement: str, why: str,
) -> None:
    """A retry finds the result a try before it recorded; a row there that holds no event, or no result, was read
    with pydantic: a ValidationError, retried as a permanent failure. Now it is refused at once, naming the event."""
    nightly = AuditVerification(trail, settings.audit_keys, None)
    await ActivityEnvironment().run(nightly.verify_audit_trail, "run-again")
    await damage_rows(trail, statement, OVERSIGHT_CHAIN, loosen=loosen)
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(nightly.verify_audit_trail, "run-again")
    assert refused.value.type == STORED_EVENT_INVALID and refused.value.non_retryable, refused.value
    assert f"event 1 of case {OVERSIGHT_CHAIN} is already stored, but {why}" in str(refused.value)


@pytest.mark.parametrize("column", ["hash", "seq"])
async def test_a_run_that_finds_the_oversight_chains_last_event_damaged_still_records_and_names_the_break(
    trail: AsyncEngine, settings: Settings, column: str,
) -> None:
    """The next run chains its result onto the oversight chain's last event; one whose hash or seq its owner set
    NULL was read with SQLAlchemy (a ValidationError, or None + 1): the run failed every night, and the auditors
    were never told. Now the result is recorded after the last row with a seq (`infra.oversight`), and it names
    the oversight chain broken at the damaged row, as every verifier does."""
    nightly = AuditVerification(trail, settings.audit_keys, None)
    await ActivityEnvironment().run(nightly.verify_audit_trail, "run-before")
    await damage_rows(trail, f"UPDATE audit_events SET {column} = NULL WHERE case_id = :id", OVERSIGHT_CHAIN,
                      loosen=column)
    summary = await ActivityEnvironment().run(nightly.verify_audit_trail, "run-after")
    assert [b.case_id for b in summary.broken] == [OVERSIGHT_CHAIN], summary
    async with trail.connect() as conn:
        recorded = (await conn.execute(text(
            "SELECT seq, payload->>'run' AS run FROM audit_events WHERE case_id = :id AND type = :type "
            "AND payload->>'run' = 'run-after'"), {"id": OVERSIGHT_CHAIN, "type": VERIFIED_EVENT})).all()
    assert [tuple(r) for r in recorded] == [(2 if column == "hash" else 1, "run-after")]
    again = await ActivityEnvironment().run(nightly.verify_audit_trail, "run-after")
    assert again == summary, "a retry finds the result recorded, once"
