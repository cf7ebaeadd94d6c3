"""The audit trail agrees with the workflow history: one event per accepted Update, and the other way round.

Events added or removed behind the application's back (as the database owner, the append-only guard off)
are found at exactly their seq.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.testing import ActivityEnvironment

from activities.records import CaseRecords
from contracts.activities import RecordEvent
from contracts.case import FILE_UPDATE, ActionCommand, CaseInput, FilingCommand, Receipt, workflow_id
from domain.audit import make_entry
from domain.crosscheck import UpdateOutcome
from domain.filing import FilingRequest
from domain.model import Office
from domain.transitions import new_case
from infra.settings import Settings
from services.crosscheck import accepted_updates
from tests.helpers.desk import Desk
from tests.helpers.people import (
    APPLICANT,
    APPLICANT_ACTOR,
    AUDITOR,
    AUDITOR_ACTOR,
    COORDINATOR,
    COORDINATOR_ACTOR,
    OTHER_APPLICANT_ACTOR,
    Person,
    officer,
)
from tests.helpers.scenarios import to_matching
from tests.helpers.support import filing
from workflows.case import CaseWorkflow

# Updates are kept a little differently by the two servers: prove both.
WORKFLOW_ENVIRONMENTS = ("time-skipping", "local")

SJ, SBIC = Office.SME_SUPPORT_JAPAN, Office.SBIC
GUARD = "audit_events_no_update_delete"
CORE_COLUMNS = "case_id, seq, type, actor, at, stage_before, stage_after, payload, prev_hash, hash"


async def crosscheck(desk: Desk, case_id: str, person: Person = AUDITOR, status: int = 200) -> dict[str, Any]:
    response = await desk.http.get(f"/api/cases/{case_id}/history/crosscheck", headers=desk.headers(person))
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def behind_our_back(engine: AsyncEngine, statement: str, **params: Any) -> None:
    """As the database owner, with the append-only guard switched off for a moment."""
    async with engine.begin() as conn:
        await conn.execute(text(f"ALTER TABLE audit_events DISABLE TRIGGER {GUARD}"))
        await conn.execute(text(statement), params)
        await conn.execute(text(f"ALTER TABLE audit_events ENABLE TRIGGER {GUARD}"))


async def noted_case(desk: Desk) -> dict[str, Any]:
    """filed, relay, accept_case, add_note, add_note (events 1–5)."""
    case = await to_matching(desk)
    await desk.ok(case, "add_note", officer(SBIC), text="first")
    return await desk.ok(case, "add_note", officer(SBIC), text="second")


async def test_a_case_driven_through_actions_is_consistent(desk: Desk, temporal: Client) -> None:
    case = await desk.file(APPLICANT)
    retry = {**desk.headers(COORDINATOR), "Idempotency-Key": f"relay-once-{case['id']}"}
    url = f"/api/cases/{case['id']}/actions/relay"
    # A client retrying while its first try is still in flight: the same key is the same Update.
    tries = await asyncio.gather(*(desk.http.post(url, json={"offices": [SJ, SBIC]}, headers=retry)
                                   for _ in range(2)))
    assert 200 in {t.status_code for t in tries} <= {200, 409}, [t.text for t in tries]
    assert (await desk.act(case, "provide_info", APPLICANT, answer="x")).status_code == 409  # refused by the API
    handle = temporal.get_workflow_handle(workflow_id(case["id"]))
    with pytest.raises(WorkflowUpdateFailedError):  # refused by the workflow's validator, past the API
        await handle.execute_update("withdraw", ActionCommand(actor=OTHER_APPLICANT_ACTOR, payload={"reason": "x"}))
    await desk.ok(case, "accept_case", officer(SBIC))
    for _ in range(2):  # the same Update id again, straight to Temporal: answered from the first, not applied
        noted = await handle.execute_update("add_note",
                                            ActionCommand(actor=COORDINATOR_ACTOR, payload={"text": "call Monday"}),
                                            id="note-once", result_type=Receipt)
        assert noted.seq == 4
    await desk.ok(case, "pause", COORDINATOR, reason="patent search")
    await desk.ok(case, "resume", COORDINATOR)

    report = await crosscheck(desk, case["id"])
    assert report == {"consistent": True, "updates": 6, "events": 6, "differences": []}
    updates = await accepted_updates(temporal, workflow_id(case["id"]))
    assert [u.name for u in updates] == ["file", "relay", "accept_case", "add_note", "pause", "resume"]
    assert [u.seq for u in updates] == [1, 2, 3, 4, 5, 6]
    assert {u.outcome for u in updates} == {UpdateOutcome.COMPLETED}
    assert (await crosscheck(desk, case["id"], COORDINATOR))["consistent"] is True


async def test_an_event_added_behind_our_back_is_found_at_its_seq(desk: Desk, engine: AsyncEngine) -> None:
    case = await noted_case(desk)
    await behind_our_back(
        engine,
        f"INSERT INTO audit_events ({CORE_COLUMNS}) "
        "SELECT case_id, seq + 1, type, actor, at, stage_before, stage_after, payload, hash, "
        "       encode(sha256(convert_to(hash, 'UTF8')), 'hex') "
        "FROM audit_events WHERE case_id = :id AND seq = 5",
        id=case["id"],
    )
    report = await crosscheck(desk, case["id"])
    assert (report["consistent"], report["updates"], report["events"]) == (False, 5, 6)
    assert report["differences"] == [{
        "side": "audit", "seq": 6, "type": "add_note", "reason": "audit event 6 (add_note) has no accepted Update",
        "position": None, "update": None, "update_id": None, "run_id": None,
    }]


async def test_an_event_deleted_behind_our_back_is_found_at_its_seq(desk: Desk, engine: AsyncEngine) -> None:
    case = await noted_case(desk)
    await behind_our_back(engine, "DELETE FROM audit_events WHERE case_id = :id AND seq = 4", id=case["id"])
    report = await crosscheck(desk, case["id"], COORDINATOR)
    assert (report["consistent"], report["updates"], report["events"]) == (False, 5, 4)
    (missing,) = report["differences"]
    assert (missing["side"], missing["seq"], missing["type"], missing["update"], missing["position"]) == (
        "workflow", 4, "add_note", "add_note", 4)
    assert missing["reason"].startswith("Update add_note (id ")
    assert missing["reason"].endswith("accepted and completed as event 4, but there is no audit event 4")


async def test_who_may_crosscheck(desk: Desk) -> None:
    case = await desk.file(APPLICANT)
    assert (await crosscheck(desk, case["id"], APPLICANT, 403))["type"] == "urn:case-desk:forbidden"
    assert (await crosscheck(desk, case["id"], officer(SJ), 404))["type"] == "urn:case-desk:not_visible"
    other = await desk.file(COORDINATOR, on_behalf_of="other-co")
    await crosscheck(desk, other["id"], APPLICANT, 404)  # not its case: that it exists does not leak
    await crosscheck(desk, str(uuid.uuid4()), AUDITOR, 404)
    await crosscheck(desk, "not-a-case", AUDITOR, 404)


async def test_a_failed_filing_and_a_repeated_one_leave_no_event(
    desk: Desk, temporal: Client, settings: Settings
) -> None:
    """Accepted, then refused by the handler (an auditor may not file): no event; a second `file` Update
    after the filing answers with the case: no event either."""
    case_id = str(uuid.uuid4())
    request = FilingRequest.model_validate(filing())
    start = WithStartWorkflowOperation(
        CaseWorkflow.run, CaseInput(case_id=case_id), id=workflow_id(case_id),
        task_queue=settings.temporal_task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    with pytest.raises(WorkflowUpdateFailedError):
        await temporal.execute_update_with_start_workflow(
            FILE_UPDATE, FilingCommand(actor=AUDITOR_ACTOR, request=request), start_workflow_operation=start, id="file",
        )
    handle = temporal.get_workflow_handle(workflow_id(case_id))
    for update_id in ("file-1", "file-2"):
        await handle.execute_update(FILE_UPDATE, FilingCommand(actor=APPLICANT_ACTOR, request=request), id=update_id,
                                    result_type=Receipt)

    updates = await accepted_updates(temporal, workflow_id(case_id))
    assert [(u.update_id, u.outcome, u.seq) for u in updates] == [
        ("file", UpdateOutcome.FAILED, None), ("file-1", UpdateOutcome.COMPLETED, 1),
        ("file-2", UpdateOutcome.COMPLETED, 1),
    ]
    assert await crosscheck(desk, case_id) == {"consistent": True, "updates": 3, "events": 1, "differences": []}


async def test_conflicting_actions_at_once_stay_consistent(desk: Desk, temporal: Client) -> None:
    """Both may pass the validator; the one that loses the lock fails under it and records nothing."""
    case = await desk.file(APPLICANT)
    handle = temporal.get_workflow_handle(workflow_id(case["id"]))
    results = await asyncio.gather(
        handle.execute_update("reject", ActionCommand(actor=COORDINATOR_ACTOR, payload={"reason": "out of scope"})),
        handle.execute_update("relay", ActionCommand(actor=COORDINATOR_ACTOR, payload={"offices": [SJ]})),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1, results
    report = await crosscheck(desk, case["id"])
    assert (report["consistent"], report["events"]) == (True, 2)
    assert report["updates"] in (2, 3)  # 3 when the loser was accepted, then failed under the lock


async def test_every_run_of_a_case_that_continued_as_new_is_read(
    desk: Desk, temporal: Client, settings: Settings
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
    for n in range(25):
        await handle.execute_update("add_note", ActionCommand(actor=COORDINATOR_ACTOR, payload={"text": f"note {n}"}),
                                    result_type=Receipt)

    updates = await accepted_updates(temporal, workflow_id(case_id))
    assert len({u.run_id for u in updates}) >= 2
    assert [u.seq for u in updates] == list(range(1, 27))
    assert await crosscheck(desk, case_id) == {"consistent": True, "updates": 26, "events": 26, "differences": []}


async def test_a_case_whose_workflow_temporal_no_longer_holds_is_a_conflict(desk: Desk, engine: AsyncEngine,
                                                                           settings: Settings) -> None:
    """Recorded, but without a workflow (as after the namespace's retention): nothing to compare with."""
    case_id = str(uuid.uuid4())
    draft = new_case(case_id, FilingRequest.model_validate(filing()), APPLICANT_ACTOR, datetime.now(UTC))
    entry = make_entry(case_id=case_id, seq=1, type="filed", actor=APPLICANT_ACTOR.model_dump(mode="json"),
                       at=draft.created_at, stage_before=None, stage_after=draft.stage, payload={},
                       prev_hash=draft.last_hash)
    recorded = draft.model_copy(update={"seq": 1, "last_hash": entry.hash})
    record = CaseRecords(engine, settings.audit_keys.signer).record_event
    await ActivityEnvironment().run(record, RecordEvent(entry=entry, state=recorded))
    problem = await crosscheck(desk, case_id, status=409)
    assert problem["type"] == "urn:case-desk:history_unavailable" and workflow_id(case_id) in problem["detail"]
