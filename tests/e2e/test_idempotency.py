"""Exactly once, as promised: an Idempotency-Key is bound to the request it was first sent with.

Reproduces issue 16: a keyed note applied a second time after the workflow continued as new; one key reused
for other actions and another filing answered 200/201 as if done; a refusal masked by a key.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from contracts.case import CASE_WORKFLOW, FILE_UPDATE, CaseInput, FilingCommand, Receipt, workflow_id
from domain.crosscheck import AcceptedUpdate, UpdateOutcome, compare
from domain.filing import FilingRequest
from domain.model import Role
from infra.settings import Settings
from infra.tables import idempotency_keys
from services.crosscheck import run_histories
from tests.helpers.desk import Desk
from tests.helpers.people import APPLICANT, APPLICANT_ACTOR, COORDINATOR, SBIC, SJ, officer
from tests.helpers.scenarios import to_matching
from tests.helpers.support import filing


def keyed(desk: Desk, person: tuple[Role, str], key: str) -> dict[str, str]:
    return {**desk.headers(person), "Idempotency-Key": key}


async def act(desk: Desk, case: dict[str, Any], action: str, person: tuple[Role, str], key: str,
              **payload: Any) -> Any:
    return await desk.http.post(f"/api/cases/{case['id']}/actions/{action}", json=payload,
                                headers=keyed(desk, person, key))


async def test_a_keyed_note_is_applied_once_across_continue_as_new(
    desk: Desk, temporal: Client, settings: Settings
) -> None:
    """The case is filed with a short history limit, so that it continues as new after a few notes."""
    case_id = str(uuid.uuid4())
    start: WithStartWorkflowOperation[Any, None] = WithStartWorkflowOperation(
        CASE_WORKFLOW, CaseInput(case_id=case_id, history_limit=40), id=workflow_id(case_id),
        task_queue=settings.temporal_task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    await temporal.execute_update_with_start_workflow(
        FILE_UPDATE, FilingCommand(actor=APPLICANT_ACTOR, request=FilingRequest.model_validate(filing())),
        start_workflow_operation=start, id="file", result_type=Receipt,
    )
    case = {"id": case_id}
    key = f"note-{uuid.uuid4()}"
    first = await act(desk, case, "add_note", COORDINATOR, key, text="call the applicant on Monday")
    assert first.status_code == 200, first.text
    for n in range(20):
        await desk.ok(case, "add_note", COORDINATOR, text=f"other note {n}")
    assert len(await run_histories(temporal, workflow_id(case_id))) >= 2  # it did continue as new

    again = await act(desk, case, "add_note", COORDINATOR, key, text="call the applicant on Monday")
    assert again.status_code == 200, again.text
    notes = [e for e in await desk.history(case, COORDINATOR) if e["type"] == "add_note"]
    assert [e["payload"]["text"] for e in notes].count("call the applicant on Monday") == 1
    assert len(notes) == 21
    check = await desk.http.get(f"/api/cases/{case_id}/history/crosscheck", headers=desk.headers(COORDINATOR))
    assert check.json()["consistent"] is True, check.text


async def test_one_key_reused_for_other_requests_is_refused_and_changes_nothing(desk: Desk) -> None:
    case = await to_matching(desk)
    key = f"k-{uuid.uuid4()}"
    noted = await act(desk, case, "add_note", officer(SBIC), key, text="first use")
    assert noted.status_code == 200, noted.text
    before = await desk.history(case, officer(SBIC))

    others: list[tuple[str, dict[str, Any]]] = [
        ("run_matching", {"limit": 5}), ("close_no_match", {"reason": "none fit"}), ("add_note", {"text": "other"}),
    ]
    for action, payload in others:
        reused = await act(desk, case, action, officer(SBIC), key, **payload)
        assert reused.status_code == 422, (action, reused.text)
        body = reused.json()
        assert body["type"] == "urn:case-desk:idempotency_key_reused"
        assert body["first_used_for"] == {"case_id": case["id"], "action": "add_note"}
    forbidden = await act(desk, case, "approve_investment", officer(SBIC), key)
    assert forbidden.status_code == 403, forbidden.text  # who may act is asked before any key
    assert await desk.history(case, officer(SBIC)) == before
    assert (await desk.get(case, officer(SBIC))).json()["stage"] == "matching"

    other_case = await to_matching(desk)
    elsewhere = await act(desk, other_case, "add_note", officer(SBIC), key, text="first use")
    assert elsewhere.status_code == 422, "the same key on another case is another request"
    theirs = await act(desk, case, "add_note", COORDINATOR, key, text="first use")
    assert theirs.status_code == 200, "the same key from another caller is another key"


async def test_a_second_filing_with_the_key_of_the_first_is_refused(desk: Desk) -> None:
    key = f"filing-{uuid.uuid4()}"
    first = await desk.http.post("/api/cases", json=filing(), headers=keyed(desk, APPLICANT, key))
    same = await desk.http.post("/api/cases", json=filing(), headers=keyed(desk, APPLICANT, key))
    assert first.status_code == same.status_code == 201 and first.json()["id"] == same.json()["id"]
    different = await desk.http.post("/api/cases", json=filing(company="Other GmbH"),
                                     headers=keyed(desk, APPLICANT, key))
    assert different.status_code == 422, different.text
    assert different.json()["first_used_for"] == {"case_id": first.json()["id"], "action": "file"}


async def test_two_identical_keyed_requests_at_once_apply_once_and_get_the_same_answer(
    desk: Desk, engine: AsyncEngine
) -> None:
    case = await desk.file(APPLICANT)
    key = f"relay-{uuid.uuid4()}"
    answers = await asyncio.gather(*(act(desk, case, "relay", COORDINATOR, key, offices=[SJ, SBIC])
                                     for _ in range(4)))
    assert {a.status_code for a in answers} == {200}, [a.text for a in answers]
    assert len({a.json()["stage"] for a in answers}) == 1
    assert [e["type"] for e in await desk.history(case, COORDINATOR)] == ["filed", "relay"]
    async with engine.connect() as conn:
        kept = (await conn.execute(select(idempotency_keys).where(idempotency_keys.c.key == key))).all()
    assert [(row.action, row.seq) for row in kept] == [("relay", 2)]


def test_the_crosscheck_reports_one_keyed_update_applied_in_two_runs() -> None:
    updates = [
        AcceptedUpdate("file", "file", UpdateOutcome.COMPLETED, 1, "run-1"),
        AcceptedUpdate("add_note", "u:key", UpdateOutcome.COMPLETED, 2, "run-1"),
        AcceptedUpdate("add_note", "u:key", UpdateOutcome.COMPLETED, 3, "run-2"),
    ]
    report = compare(updates, [])
    assert any("was applied 2 times" in d.reason and d.update_id == "u:key" for d in report.differences)


async def test_an_expired_key_is_a_new_key_for_actions_and_filings(desk: Desk, engine: AsyncEngine) -> None:
    case = await to_matching(desk)
    key = f"k-{uuid.uuid4()}"
    assert (await act(desk, case, "add_note", COORDINATOR, key, text="A")).status_code == 200
    filed = await desk.http.post("/api/cases", json=filing(company="First GmbH"), headers=keyed(desk, APPLICANT, key))
    async with engine.begin() as conn:
        await conn.execute(update(idempotency_keys).where(idempotency_keys.c.key == key)
                           .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))

    again = await act(desk, case, "add_note", COORDINATOR, key, text="B")
    assert again.status_code == 200, again.text
    notes = [e["payload"]["text"] for e in await desk.history(case, COORDINATOR) if e["type"] == "add_note"]
    assert notes == ["A", "B"]
    second = await desk.http.post("/api/cases", json=filing(company="Second GmbH"),
                                  headers=keyed(desk, APPLICANT, key))
    assert second.status_code == 201, second.text
    assert second.json()["id"] != filed.json()["id"] and second.json()["company"]["name"] == "Second GmbH"
