"""A long case stays healthy (continue-as-new carries everything over), and a retried activity writes once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.testing import ActivityEnvironment

from activities.records import CaseRecords
from contracts.activities import RecordEvent
from contracts.case import FILE_UPDATE, ActionCommand, CaseInput, FilingCommand, Receipt, workflow_id
from domain.audit import make_entry
from domain.chain_verification import first_broken, verify_chain
from domain.filing import FilingRequest
from domain.model import NOTES_KEPT, CaseState, Stage
from domain.signing import Keyring
from domain.transitions import new_case
from infra.audit_trail import stored_entries
from infra.settings import Settings
from infra.tables import cases
from tests.helpers.people import APPLICANT_ACTOR, COORDINATOR_ACTOR
from tests.helpers.support import filing
from workflows.case import CaseWorkflow

entries = stored_entries
SIGNER = Settings(_env_file=None).audit_keys.signer


async def test_a_long_case_continues_as_new_with_its_state(
    temporal: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    case_id = str(uuid.uuid4())
    start = WithStartWorkflowOperation(
        CaseWorkflow.run, CaseInput(case_id=case_id, history_limit=40), id=workflow_id(case_id),
        task_queue=settings.temporal_task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    await temporal.execute_update_with_start_workflow(
        FILE_UPDATE, FilingCommand(actor=APPLICANT_ACTOR, request=FilingRequest.model_validate(filing())),
        start_workflow_operation=start, id="file", result_type=Receipt,
    )
    handle = temporal.get_workflow_handle(workflow_id(case_id))
    first_run = (await handle.describe()).run_id
    for n in range(25):
        await handle.execute_update(
            "add_note", ActionCommand(actor=COORDINATOR_ACTOR, payload={"text": f"note {n}"}), result_type=Receipt
        )
    closed = await handle.execute_update(
        "reject", ActionCommand(actor=COORDINATOR_ACTOR, payload={"reason": "done"}), result_type=Receipt
    )

    first_history = await temporal.get_workflow_handle(workflow_id(case_id), run_id=first_run).fetch_history()
    assert first_history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    assert closed.seq == 27 and closed.stage == Stage.CLOSED
    async with sessions() as session:  # the read model: the latest notes in words, and how many there were
        case = CaseState.model_validate(await session.scalar(select(cases.c.snapshot).where(cases.c.id == case_id)))
    assert [n.text for n in case.notes] == [f"note {n}" for n in range(25 - NOTES_KEPT, 25)]
    assert case.notes_total == 25 and case.outcome == "rejected_at_screening"
    assert await handle.result() == "rejected_at_screening"
    trail = await entries(sessions, case_id)
    assert [e.seq for e in trail] == list(range(1, 28)) and first_broken(trail) is None


async def test_a_retried_activity_writes_once(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    case_id = str(uuid.uuid4())
    draft = new_case(case_id, FilingRequest.model_validate(filing()), APPLICANT_ACTOR, datetime.now(UTC))
    entry = make_entry(case_id=case_id, seq=1, type="filed", actor=APPLICANT_ACTOR.model_dump(mode="json"),
                       at=draft.created_at, stage_before=None, stage_after=draft.stage, payload={},
                       prev_hash=draft.last_hash)
    recorded = draft.model_copy(update={"seq": 1, "last_hash": entry.hash})
    record = CaseRecords(engine, SIGNER).record_event
    env = ActivityEnvironment()
    for _ in range(3):
        await env.run(record, RecordEvent(entry=entry, state=recorded))

    stored = await entries(sessions, case_id)
    assert [e.hash for e in stored] == [entry.hash]
    assert stored[0].key_id == SIGNER.key_id, "the workflow hashed it; the recording step signed it"
    assert verify_chain(stored, Keyring.of([SIGNER.public])).signed == 1
    async with sessions() as session:
        assert await session.scalar(select(cases.c.seq).where(cases.c.id == case_id)) == 1


async def test_an_older_retry_never_rewinds_the_read_model(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    case_id = str(uuid.uuid4())
    draft = new_case(case_id, FilingRequest.model_validate(filing()), APPLICANT_ACTOR, datetime.now(UTC))
    first = make_entry(case_id=case_id, seq=1, type="filed", actor=APPLICANT_ACTOR.model_dump(mode="json"),
                       at=draft.created_at, stage_before=None, stage_after="screening", payload={},
                       prev_hash=draft.last_hash)
    second = make_entry(case_id=case_id, seq=2, type="reject", actor=COORDINATOR_ACTOR.model_dump(mode="json"),
                        at=draft.created_at, stage_before="screening", stage_after="closed",
                        payload={"reason": "x"}, prev_hash=first.hash)
    at_one = draft.model_copy(update={"seq": 1, "last_hash": first.hash})
    at_two = draft.model_copy(update={"seq": 2, "last_hash": second.hash, "stage": Stage.CLOSED})
    record = CaseRecords(engine, SIGNER).record_event
    env = ActivityEnvironment()
    await env.run(record, RecordEvent(entry=first, state=at_one))
    await env.run(record, RecordEvent(entry=second, state=at_two))
    await env.run(record, RecordEvent(entry=first, state=at_one))  # a late retry of the first

    async with sessions() as session:
        row = (await session.execute(select(cases.c.seq, cases.c.stage).where(cases.c.id == case_id))).one()
    assert tuple(row) == (2, "closed")
    assert first_broken(await entries(sessions, case_id)) is None
