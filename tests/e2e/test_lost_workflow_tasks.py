"""Events recorded inside the workflow task (issue 15): a worker that dies between committing an event and
Temporal keeping its workflow task leaves an event the workflow never had. The same step coming again adopts it;
a different step takes its place, and the lost one is kept aside, whole, for the auditor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.records import CaseRecords
from contracts.activities import EventHeader, RecordCaseEvent, Recorded
from contracts.case import workflow_id
from domain.idempotency import KeyClaim, fingerprint
from domain.model import SYSTEM_ACTOR, Action, CaseState
from domain.payloads import parse_payload
from infra.settings import Settings
from infra.tables import audit_events, idempotency_keys, notifications, superseded_events
from tests.helpers.desk import Desk
from tests.helpers.people import APPLICANT, COORDINATOR, SJ
from workflows.case import CaseWorkflow


async def record_as_a_lost_task(
    engine: AsyncEngine, settings: Settings, temporal: Client, case_id: str, step: str, at: datetime,
    event_type: str = "request_info", payload: dict[str, Any] | None = None, claim: KeyClaim | None = None,
) -> Recorded:
    """What a worker that died before its workflow task was kept leaves behind: the next event of the case,
    committed by the recording step, with a step the workflow's history does not have."""
    state = await temporal.get_workflow_handle(workflow_id(case_id)).query(CaseWorkflow.snapshot)
    assert isinstance(state, CaseState)
    header = EventHeader(case_id=case_id, seq=state.seq + 1, type=event_type, at=at,
                         actor=SYSTEM_ACTOR.model_dump(mode="json"), stage_before=state.stage,
                         stage_after=state.stage, prev_hash=state.last_hash)
    command = RecordCaseEvent(header=header, payload=payload or {"questions": ["Asked by a task that was lost?"]},
                              state=state.model_copy(update={"seq": header.seq, "updated_at": at}), step=step,
                              claim=claim)
    records = CaseRecords(engine, settings.audit_keys.signer)
    result: Recorded = await ActivityEnvironment().run(records.record_case_event, command)
    return result


async def test_an_event_whose_step_was_lost_gives_way_to_the_workflows_next_step(
    desk: Desk, temporal: Client, engine: AsyncEngine, settings: Settings
) -> None:
    case = await desk.file(APPLICANT)
    lost = await record_as_a_lost_task(engine, settings, temporal, case["id"], "update:lost", datetime.now(UTC))
    assert [e["type"] for e in await desk.history(case, COORDINATOR)][-1] == "request_info"  # it was committed

    await desk.ok(case, "relay", COORDINATOR, offices=[SJ])

    events = await desk.history(case, COORDINATOR)
    assert [(e["seq"], e["type"]) for e in events] == [(1, "filed"), (2, "relay")]
    assert (await desk.verify(case, COORDINATOR))["valid"] is True
    shown = (await desk.get(case, COORDINATOR)).json()
    assert shown["stage"] == "office_review"
    async with engine.connect() as conn:
        aside = (await conn.execute(select(superseded_events).where(superseded_events.c.case_id == case["id"]))).all()
        mail = (await conn.execute(select(notifications.c.seq, notifications.c.template, notifications.c.status)
                                   .where(notifications.c.case_id == case["id"], notifications.c.seq == 2))).all()
    assert [(r.seq, r.hash, r.event["type"], r.step) for r in aside] == [(2, lost.hash, "request_info", "update:lost")]
    assert aside[0].superseded_by_step.startswith("update:") and aside[0].event["signature"]
    assert aside[0].event.get("personal") is None  # personal data is not kept aside
    # The lost event's mail was withdrawn unless it had gone out already; the relay's own mail was not lost to it.
    assert not [m for m in mail if m.template == "info_requested" and m.status == "pending"]
    assert any(m.template != "info_requested" for m in mail), mail


async def test_the_same_step_again_answers_with_the_event_it_stored(
    desk: Desk, temporal: Client, engine: AsyncEngine, settings: Settings
) -> None:
    case = await desk.file(APPLICANT)
    first = await record_as_a_lost_task(engine, settings, temporal, case["id"], "update:again", datetime.now(UTC))
    again = await record_as_a_lost_task(engine, settings, temporal, case["id"], "update:again",
                                        datetime.now(UTC) + timedelta(seconds=9))  # the task ran later the 2nd time
    assert again.hash == first.hash
    async with engine.connect() as conn:
        stored = await conn.scalar(select(func.count()).select_from(audit_events)
                                   .where(audit_events.c.case_id == case["id"], audit_events.c.seq == 2))
        aside = await conn.scalar(select(func.count()).select_from(superseded_events)
                                  .where(superseded_events.c.case_id == case["id"]))
    assert (stored, aside) == (1, 0)


async def test_a_keyed_action_whose_task_was_lost_is_applied_once_when_sent_again(
    desk: Desk, temporal: Client, engine: AsyncEngine, settings: Settings
) -> None:
    """The lost event had claimed the caller's Idempotency-Key; sent again with that key, the action is applied
    once (it takes the lost event's place), neither refused as a reused key nor answered from the lost event."""
    case = await desk.file(APPLICANT)
    me = (await desk.http.get("/api/me", headers=desk.headers(COORDINATOR))).json()
    payload = {"offices": [SJ]}
    as_sent = parse_payload(Action.RELAY, payload).model_dump(mode="json")  # as the desk fingerprints a request
    claim = KeyClaim(caller_id=me["id"], key="relay-once", fingerprint=fingerprint(case["id"], "relay", as_sent),
                     expires_at=datetime.now(UTC) + timedelta(hours=1))
    await record_as_a_lost_task(engine, settings, temporal, case["id"], "update:lost", datetime.now(UTC),
                                event_type="relay", payload=payload, claim=claim)

    sent = await desk.http.post(f"/api/cases/{case['id']}/actions/relay", json=payload,
                                headers={"Idempotency-Key": "relay-once", **desk.headers(COORDINATOR)})

    assert sent.status_code == 200, sent.text
    assert [(e["seq"], e["type"]) for e in await desk.history(case, COORDINATOR)] == [(1, "filed"), (2, "relay")]
    assert (await desk.verify(case, COORDINATOR))["valid"] is True
    async with engine.connect() as conn:
        steps = (await conn.execute(select(audit_events.c.step).where(audit_events.c.case_id == case["id"],
                                                                      audit_events.c.seq == 2))).scalars().all()
        aside = (await conn.execute(select(superseded_events.c.step)
                                    .where(superseded_events.c.case_id == case["id"]))).scalars().all()
        bound = (await conn.execute(select(idempotency_keys.c.seq)
                                    .where(idempotency_keys.c.key == "relay-once"))).scalars().all()
    assert steps != ["update:lost"] and aside == ["update:lost"] and bound == [2]
