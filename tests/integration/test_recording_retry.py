"""A retried recording step answers with the event a try before it stored, but only once that row proves to be
the step's own: a row someone else put under the event's (case, seq) is refused for good, as an incident."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.exceptions import ApplicationError

from activities.records import CaseRecords
from contracts.activities import RECORD_CASE_EVENT, RecordEvent
from contracts.case import workflow_id
from contracts.errors import STEP_FAILED, STORED_EVENT_INVALID, UNSTORABLE
from domain.audit import make_entry, sign
from domain.signing import Signer
from infra.tables import audit_events, incidents
from tests.helpers.recording import SIGNER, STRANGER, a_note, filing_step
from tests.helpers.tampering import damage_record, damage_rows


@pytest.mark.parametrize(("forger", "why"), [(STRANGER, "which is not a known audit key"),
                                             (None, "it is not signed")], ids=["foreign key", "unsigned"])
async def test_a_retry_answers_with_its_own_row_and_refuses_a_forged_one(
    engine: AsyncEngine, forger: Signer | None, why: str,
) -> None:
    env, record, draft, filed = filing_step(engine)
    case_id = draft.id
    first = await env.run(record, filed)
    assert (await env.run(record, filed)).hash == first.hash, "a retry answers with the row its try stored"

    # Someone who can write the table puts a correctly chained event 2 there before the step records its own.
    command = a_note(draft, first.hash, "the real note")
    forged = make_entry(**command.header.model_dump(exclude={"salt"}), payload={"text": "made up"})
    async with engine.begin() as conn:
        await conn.execute(insert(audit_events).values(**(sign(forged, forger) if forger else forged).model_dump()))
    with pytest.raises(ApplicationError) as refused:
        await env.run(record, command)
    assert refused.value.type == STORED_EVENT_INVALID and refused.value.non_retryable
    assert f"event 2 of case {case_id} is already stored, but" in str(refused.value) and why in str(refused.value)

    async with engine.connect() as conn:
        incident = (await conn.execute(select(incidents).where(
            incidents.c.workflow_id == workflow_id(case_id), incidents.c.resolved_at.is_(None)))).mappings().one()
    assert incident["step"] == RECORD_CASE_EVENT and incident["kind"] == "permanent"
    assert why in incident["error"]


async def test_an_event_the_database_cannot_store_is_refused_at_the_first_attempt(engine: AsyncEngine) -> None:
    """PostgreSQL refuses some values for good (SQLSTATE class 22, e.g. U+0000 inside jsonb); asyncpg's error
    reaches SQLAlchemy as a plain DBAPIError, not a DataError, and was retried as if it might yet succeed."""
    env, record, draft, filed = filing_step(engine)
    case_id = draft.id
    first = await env.run(record, filed)
    command = a_note(draft, first.hash, "before\u0000after")
    with pytest.raises(ApplicationError) as refused:
        await env.run(record, command)
    assert refused.value.type == UNSTORABLE and refused.value.non_retryable, refused.value
    assert "the database cannot store this event" in str(refused.value)
    async with engine.connect() as conn:
        stored = (await conn.execute(select(audit_events.c.seq).where(audit_events.c.case_id == case_id))).all()
    assert [row.seq for row in stored] == [1], "nothing of the refused event is written"


DAMAGED = [  # what the table's owner can leave under the (case, seq) a retry finds taken, and what the refusal says
    ("hash", "UPDATE audit_events SET hash = NULL WHERE case_id = :id", "its hash is NULL"),
    ("stage_after", "UPDATE audit_events SET stage_after = NULL WHERE case_id = :id", "its stage_after is NULL"),
    (None, "UPDATE audit_events SET payload = '[1, 2]' WHERE case_id = :id", "its payload is not a JSON object"),
    (None, "UPDATE audit_events SET actor = '\"someone\"' WHERE case_id = :id", "its actor is not a JSON object"),
]


@pytest.mark.parametrize(("loosen", "statement", "why"), DAMAGED, ids=["hash", "stage_after", "payload", "actor"])
async def test_a_retry_that_finds_a_damaged_row_refuses_it_for_good(
    registry: AsyncEngine, loosen: str | None, statement: str, why: str,
) -> None:
    """A row under the event's (case, seq) that holds no event (a NOT NULL dropped and the column set NULL, JSON of
    another type) was validated with pydantic: a ValidationError, retried as a permanent failure (step_failed) three
    times. It is read as every reader reads stored rows (`domain.stored_rows`): refused at once, naming the event."""
    env, record, draft, filed = filing_step(registry)
    case_id = draft.id
    await env.run(record, filed)
    await damage_rows(registry, statement, case_id, loosen=loosen)
    with pytest.raises(ApplicationError) as refused:
        await env.run(record, filed)  # the retry of a try that committed
    assert refused.value.type == STORED_EVENT_INVALID and refused.value.non_retryable, refused.value
    assert f"event 1 of case {case_id} is already stored, but {why}" in str(refused.value)
    async with registry.connect() as conn:
        incident = (await conn.execute(select(incidents).where(
            incidents.c.workflow_id == workflow_id(case_id), incidents.c.resolved_at.is_(None)))).mappings().one()
    assert incident["kind"] == "permanent" and why in incident["error"]


async def test_a_case_whose_stored_record_is_no_case_is_refused_at_the_first_attempt(registry: AsyncEngine) -> None:
    """The recording step reads the case's read-model row (for the candidates' details and the mail an event
    causes); a row its owner altered to JSON of another shape was a ValidationError, tried three times. It is read
    as every reader reads it (`infra.case_rows.stored_case`): a verdict naming the case, at once."""
    env, record, draft, filed = filing_step(registry)
    case_id = draft.id
    first = await env.run(record, filed)
    await damage_record(registry, case_id, '{"stage": "screening"}')
    command = a_note(draft, first.hash, "a note")
    with pytest.raises(ApplicationError) as refused:
        await env.run(record, command)
    assert refused.value.type == STEP_FAILED and refused.value.non_retryable, refused.value
    assert f"case {case_id} cannot be read back: its stored record" in str(refused.value)
    async with registry.connect() as conn:
        stored = (await conn.execute(select(audit_events.c.seq).where(audit_events.c.case_id == case_id))).all()
    assert [row.seq for row in stored] == [1], "nothing of the refused event is written"


async def test_the_old_recording_step_reads_back_its_own_row_before_any_other_statement(registry: AsyncEngine) -> None:
    """`record_event` (cases from before `bounded-case-state`) reads the row under (case, seq) first thing in its
    transaction, before the driver has begun it (`infra.audit_trail.rows_in`): a retry finds its row, writes nothing
    twice, and a damaged one is refused as the new step refuses it."""
    env, _, draft, filed = filing_step(registry)
    entry = make_entry(**filed.header.model_dump(exclude={"salt"}), payload=filed.payload)
    command = RecordEvent(entry=entry, state=filed.state.model_copy(update={"last_hash": entry.hash}))
    record = CaseRecords(registry, SIGNER).record_event
    assert [await env.run(record, command) for _ in range(2)] == [0, 0]
    async with registry.connect() as conn:
        stored = (await conn.execute(select(audit_events.c.seq).where(audit_events.c.case_id == draft.id))).all()
    assert [row.seq for row in stored] == [1]
    await damage_rows(registry, "UPDATE audit_events SET payload = '[]' WHERE case_id = :id", draft.id)
    with pytest.raises(ApplicationError) as refused:
        await env.run(record, command)
    assert refused.value.type == STORED_EVENT_INVALID and "its payload is not a JSON object" in str(refused.value)
