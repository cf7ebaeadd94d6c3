"""Events recorded in a workflow task that was lost (an Update's event is written by a local activity, issue 15):
the same Update delivered again is answered with its stored event; events the case never took are voided by the
next recording, which then records the case's own event after the voiding (`activities.strangers`)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.exceptions import ApplicationError

from activities.records import SEQ_TAKEN
from contracts.activities import EventHeader, RecordCaseEvent
from contracts.errors import STORED_EVENT_INVALID
from domain import events
from domain.audit import AuditEntry, make_entry, sign
from domain.chain_verification import verify_chain
from domain.idempotency import KeyClaim
from domain.model import Action, Actor, Candidate, CaseState
from domain.payloads import parse_payload
from domain.signing import Keyring
from domain.texts import bound_candidates_of, ref_of
from domain.transitions import apply, event_payload
from domain.voiding import VOID_REASON
from infra.tables import audit_events, cases, idempotency_keys, notifications
from infra.texts import keep_texts
from tests.helpers.people import COORDINATOR_ACTOR
from tests.helpers.recording import SIGNER, a_note, filing_step


async def trail(engine: AsyncEngine, case_id: str) -> list[AuditEntry]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(audit_events).where(audit_events.c.case_id == case_id)
                                   .order_by(audit_events.c.seq))).mappings().all()
    return [AuditEntry.model_validate(dict(row)) for row in rows]


async def test_an_update_delivered_again_is_answered_with_the_event_its_lost_task_stored(engine: AsyncEngine) -> None:
    """The Update runs again in a new task: the same action at another time, under another salt. It is the same
    event, not a second one."""
    env, record, draft, filed = filing_step(engine)
    first = await env.run(record, filed)
    lost = a_note(draft, first.hash, "a note its task lost")
    stored = await env.run(record, lost)
    again = lost.model_copy(update={"header": lost.header.model_copy(update={
        "at": lost.header.at + timedelta(seconds=12), "salt": "f" * 32})})
    answered = await env.run(record, again)
    assert (answered.seq, answered.hash) == (2, stored.hash)
    assert [e.type for e in await trail(engine, draft.id)] == ["filed", "add_note"]


async def test_an_event_no_workflow_took_is_voided_and_the_case_goes_on_after_it(engine: AsyncEngine) -> None:
    env, record, draft, filed = filing_step(engine)
    case_id = draft.id
    first = await env.run(record, filed)
    # The lost task's event: a question to the applicant (mail waits in the outbox), sent with an Idempotency-Key.
    claim = KeyClaim(caller_id="coordinator-1", key="ask-once", fingerprint="0" * 64,
                     expires_at=datetime.now(UTC) + timedelta(hours=1))
    asked = a_note(draft, first.hash, "ignored")
    asked = asked.model_copy(update={
        "header": asked.header.model_copy(update={"type": "request_info"}),
        "payload": {"questions": ["Which markets?"]}, "claim": claim})
    await env.run(record, asked)
    async with engine.connect() as conn:
        waiting = (await conn.execute(select(notifications.c.status).where(
            notifications.c.case_id == case_id, notifications.c.seq == 2))).scalars().all()
    assert waiting and set(waiting) == {"pending"}, "the lost task's event put mail in the outbox"

    # The workflow never took it: its next recording (a note, the next seq it knows) comes to the same seq.
    own = a_note(draft, first.hash, "the case's own note")
    own = own.model_copy(update={"header": own.header.model_copy(update={"at": own.header.at + timedelta(minutes=1)})})
    recorded = await env.run(record, own)
    assert recorded.seq == 4

    entries = await trail(engine, case_id)
    assert [(e.seq, e.type) for e in entries] == [
        (1, "filed"), (2, "request_info"), (3, events.VOIDED), (4, "add_note")]
    voiding = entries[2]
    assert voiding.payload == {"from_seq": 2, "to_seq": 2, "reason": VOID_REASON}
    assert (voiding.stage_before, voiding.stage_after) == (entries[1].stage_after, own.header.stage_before)
    assert entries[3].payload == {"text": "the case's own note"} and entries[3].hash == recorded.hash
    assert verify_chain(entries, Keyring.of([SIGNER.public])).valid, "the trail still verifies, voiding and all"

    async with engine.connect() as conn:
        model = (await conn.execute(select(cases.c.seq, cases.c.snapshot).where(cases.c.id == case_id))).one()
        mail = (await conn.execute(select(notifications.c.status).where(
            notifications.c.case_id == case_id, notifications.c.seq == 2))).scalars().all()
        keys = (await conn.execute(select(idempotency_keys).where(idempotency_keys.c.case_id == case_id))).all()
    assert model.seq == 4 and model.snapshot["last_hash"] == recorded.hash
    assert set(mail) == {"cancelled"}, "mail about an action the case never took is not sent"
    assert keys == [], "the key is free again: the caller's retry applies the action"

    again = await env.run(record, own)  # the step retried after its transaction committed
    assert (again.seq, again.hash) == (4, recorded.hash)
    assert len(await trail(engine, case_id)) == 4


async def test_several_lost_events_are_voided_at_once(engine: AsyncEngine) -> None:
    env, record, draft, filed = filing_step(engine)
    first = await env.run(record, filed)
    one = await env.run(record, a_note(draft, first.hash, "lost one"))
    two = a_note(draft, one.hash, "lost two")
    two = two.model_copy(update={"header": two.header.model_copy(update={"seq": 3})})
    await env.run(record, two)
    recorded = await env.run(record, a_note(draft, first.hash, "kept"))
    entries = await trail(engine, draft.id)
    assert [e.type for e in entries] == ["filed", "add_note", "add_note", events.VOIDED, "add_note"]
    assert entries[3].payload["from_seq"] == 2 and entries[3].payload["to_seq"] == 3
    assert recorded.seq == 5 and entries[4].payload == {"text": "kept"}


async def test_a_stranger_at_the_filing_is_refused_not_voided(engine: AsyncEngine) -> None:
    """A case is filed once: a different filing at seq 1 is nobody's lost task (the filing delivered again is the
    same event), so it stays a refusal for good, as any event the step cannot own."""
    env, record, draft, filed = filing_step(engine)
    await env.run(record, filed)
    other = filed.model_copy(update={"payload": {**filed.payload, "summary": "another filing"}})
    async with engine.begin() as conn:
        before = (await conn.execute(select(audit_events.c.seq).where(audit_events.c.case_id == draft.id))).all()
    with pytest.raises(ApplicationError) as refused:
        await env.run(record, other)
    assert refused.value.type == STORED_EVENT_INVALID and refused.value.non_retryable
    assert "not the filing" in str(refused.value)
    async with engine.connect() as conn:
        after = (await conn.execute(select(audit_events.c.seq).where(audit_events.c.case_id == draft.id))).all()
    assert after == before


async def test_a_voiding_cannot_void_what_a_forger_wrote(engine: AsyncEngine) -> None:
    """Only events signed as the recording step signs are voided: an unsigned one at the seq is still refused."""
    env, record, draft, filed = filing_step(engine)
    first = await env.run(record, filed)
    note = a_note(draft, first.hash, "real")
    forged = make_entry(**note.header.model_dump(exclude={"salt"}), payload={"text": "forged"})
    async with engine.begin() as conn:
        await conn.execute(insert(audit_events).values(**forged.model_dump()))
    with pytest.raises(ApplicationError) as refused:
        await env.run(record, note)
    assert refused.value.type == STORED_EVENT_INVALID and "it is not signed" in str(refused.value)
    assert [e.type for e in await trail(engine, draft.id)] == ["filed", "add_note"]


async def test_a_try_that_finds_its_seq_taken_while_writing_reads_the_event_there(engine: AsyncEngine) -> None:
    """Two tries of one Update at once (a worker whose task was lost still writing while another runs the task
    again): their events differ in time and salt. The one whose insert finds the seq taken must not answer with its
    own hash, which no stored event has: it fails, to be retried, and the retry answers with the stored event."""
    env, record, draft, filed = filing_step(engine)
    first = await env.run(record, filed)
    mine = a_note(draft, first.hash, "one note")
    theirs = make_entry(**mine.header.model_copy(update={"at": mine.header.at + timedelta(seconds=3),
                                                         "salt": "e" * 32}).model_dump(),
                        payload=mine.payload)
    async with engine.connect() as other:
        writing = await other.begin()
        await other.execute(insert(audit_events).values(**sign(theirs, SIGNER).model_dump()))
        trying = asyncio.create_task(env.run(record, mine))
        await asyncio.sleep(0.5)  # it read the trail (the other try's row is not committed) and waits on its insert
        assert not trying.done()
        await writing.commit()
        with pytest.raises(ApplicationError) as raced:
            await trying
    assert raced.value.type == SEQ_TAKEN and not raced.value.non_retryable
    async with engine.connect() as conn:  # nothing of the failed try is written: the read model stays at event 1
        assert await conn.scalar(select(cases.c.seq).where(cases.c.id == draft.id)) == 1
    again = await env.run(record, mine)
    assert (again.seq, again.hash) == (2, theirs.hash)
    assert [e.hash for e in await trail(engine, draft.id)] == [first.hash, theirs.hash]


def _action_step(draft: CaseState, before: CaseState, prev_hash: str, action: Action, raw: dict[str, object],
                 actor: Actor, at: datetime) -> tuple[RecordCaseEvent, CaseState]:
    """The recording of `action` as the case's next event after `before` (whose last hash is `prev_hash`)."""
    payload = parse_payload(action, raw)
    after = apply(before, actor, action, payload, at)
    header = EventHeader(case_id=draft.id, seq=before.seq + 1, type=action, actor=actor.model_dump(mode="json"),
                         at=at, stage_before=before.stage, stage_after=after.stage, prev_hash=prev_hash,
                         salt=uuid.uuid4().hex)
    numbered = after.model_copy(update={"seq": header.seq})
    return (RecordCaseEvent(header=header, payload=event_payload(action, payload, None), state=numbered),
            numbered)


async def test_mail_readdressed_by_a_voided_contact_goes_back_to_the_contact_the_case_has(engine: AsyncEngine) -> None:
    """A lost task's `update_contact` readdressed the case's unsent mail to an address the case never took; its
    voiding must send that mail to the case's own contact again, not to the stranger's address."""
    env, record, draft, filed = filing_step(engine)
    first = await env.run(record, filed)
    filed_state = draft.model_copy(update={"seq": 1, "last_hash": first.hash})
    at = draft.created_at + timedelta(minutes=1)
    asking, asked = _action_step(draft, filed_state, first.hash, Action.REQUEST_INFO,
                                 {"questions": ["Which markets?"]}, COORDINATOR_ACTOR, at)
    question = await env.run(record, asking)
    asked = asked.model_copy(update={"last_hash": question.hash})
    own_address = str(draft.request.contact.email)
    lost, _ = _action_step(draft, asked, question.hash, Action.UPDATE_CONTACT,
                           {"name": "Somebody Else", "email": "never-taken@example.com"}, COORDINATOR_ACTOR,
                           at + timedelta(minutes=1))
    await env.run(record, lost)
    async with engine.connect() as conn:
        readdressed = (await conn.execute(select(notifications.c.recipient_email).where(
            notifications.c.case_id == draft.id, notifications.c.seq == 2))).scalars().all()
    assert readdressed == ["never-taken@example.com"], "the lost task's event readdressed the question"

    own, _ = _action_step(draft, asked, question.hash, Action.ADD_NOTE, {"text": "the case's own note"},
                          COORDINATOR_ACTOR, at + timedelta(minutes=2))
    recorded = await env.run(record, own)
    assert recorded.seq == 5
    async with engine.connect() as conn:
        mail = (await conn.execute(select(notifications.c.recipient_email, notifications.c.status).where(
            notifications.c.case_id == draft.id, notifications.c.seq == 2))).all()
    assert [(m.recipient_email, m.status) for m in mail] == [(own_address, "pending")], \
        "the question goes to the address the case has, not to one only a voided event gave"


async def _matched(engine: AsyncEngine, draft: CaseState, before: CaseState, prev_hash: str, name: str,
                   at: datetime) -> tuple[RecordCaseEvent, CaseState]:
    """The recording of a `run_matching` that found one SME named `name` (its ranking kept, as matching keeps it)."""
    found = [Candidate(sme_id=f"sme-{name.lower()}", name=name, score=0.9, factors={"industry": 1.0},
                       reason=f"{name} fits")]
    kept = json.dumps([c.model_dump(mode="json") for c in found], ensure_ascii=False, sort_keys=True)
    async with engine.begin() as conn:
        await keep_texts(conn, draft.id, {ref_of(kept): kept})
    criteria = parse_payload(Action.RUN_MATCHING, {})
    held = bound_candidates_of(found)
    after = apply(before, COORDINATOR_ACTOR, Action.RUN_MATCHING, criteria, at, held)
    header = EventHeader(case_id=draft.id, seq=before.seq + 1, type=Action.RUN_MATCHING,
                         actor=COORDINATOR_ACTOR.model_dump(mode="json"), at=at, stage_before=before.stage,
                         stage_after=after.stage, prev_hash=prev_hash, salt=uuid.uuid4().hex)
    numbered = after.model_copy(update={"seq": header.seq})
    return (RecordCaseEvent(header=header, payload=event_payload(Action.RUN_MATCHING, criteria, held),
                            state=numbered, candidates_ref=ref_of(kept)), numbered)


async def test_the_read_model_keeps_the_details_of_the_case_s_candidates_after_a_voided_matching(
    engine: AsyncEngine,
) -> None:
    """A lost task's `run_matching` put other candidates in the read model; the case's next event (its workflow
    holds its own candidates by id and score) must show them with their names, factors and reasons again."""
    env, record, draft, filed = filing_step(engine)
    first = await env.run(record, filed)
    at = draft.created_at + timedelta(minutes=1)
    matching, matched = await _matched(engine, draft, draft.model_copy(update={"seq": 1, "last_hash": first.hash}),
                                       first.hash, "Alpha", at)
    ranked = await env.run(record, matching)
    matched = matched.model_copy(update={"last_hash": ranked.hash})
    lost, _ = await _matched(engine, draft, matched, ranked.hash, "Beta", at + timedelta(minutes=1))
    await env.run(record, lost)
    own, _ = _action_step(draft, matched, ranked.hash, Action.ADD_NOTE, {"text": "the case's own note"},
                          COORDINATOR_ACTOR, at + timedelta(minutes=2))
    assert (await env.run(record, own)).seq == 5
    async with engine.connect() as conn:
        snapshot = (await conn.execute(select(cases.c.snapshot).where(cases.c.id == draft.id))).scalar_one()
    assert [(c["sme_id"], c["name"], c["reason"]) for c in snapshot["candidates"]] == [
        ("sme-alpha", "Alpha", "Alpha fits")], "the candidates the case has, with their details"
