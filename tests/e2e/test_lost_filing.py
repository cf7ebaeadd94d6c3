"""A filing recorded in the workflow task that accepted it (a local activity, issue 15), that task lost and the
filing's Update never delivered again (its caller gave up while Temporal restarted): the case is on the trail and in
the read model, chained and signed, but its workflow never took it. Once the filing's grace has passed, the workflow
takes the filing stored for it instead of ending: the case goes on, and is never a case no workflow runs."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

from temporalio.client import Client
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.records import CaseRecords
from contracts.activities import EventHeader, RecordCaseEvent
from contracts.case import CASE_WORKFLOW, CaseInput, workflow_id
from domain import events
from domain.filing import FilingRequest
from domain.idempotency import FILING, KeyClaim, fingerprint
from domain.model import Actor
from domain.transitions import new_case
from infra.settings import Settings
from services.idempotency import case_id_for
from tests.helpers.mail import MailSink
from tests.helpers.people import APPLICANT, AUDITOR, COORDINATOR, SBIC
from tests.helpers.recording import filing_step
from tests.helpers.support import filing
from tests.helpers.team import team_desk
from workflows.case import FILING_GRACE


async def test_a_filing_whose_update_never_came_back_is_taken_by_its_workflow(
    env: WorkflowEnvironment, settings: Settings, migrated_database: str, mail_sink: MailSink,
) -> None:
    client: Client = env.client
    async with team_desk(client, settings, migrated_database) as team:
        assert team.engine is not None
        _, _, draft, filed = filing_step(team.engine)
        handle = await client.start_workflow(
            CASE_WORKFLOW, CaseInput(case_id=draft.id, service_levels=settings.service_levels()),
            id=workflow_id(draft.id), task_queue=settings.temporal_task_queue,
        )
        activity = ActivityEnvironment()
        activity.info = dataclasses.replace(activity.info, workflow_id=workflow_id(draft.id))
        await activity.run(CaseRecords(team.engine, settings.audit_keys.signer).record_case_event, filed)
        await env.sleep(FILING_GRACE + timedelta(minutes=1))
        relayed = await team.ok(draft.id, "relay", COORDINATOR, offices=[SBIC])
        history = await team.history(draft.id, AUDITOR)
        verdict = await team.verify(draft.id, AUDITOR)
        crosscheck = (await team.http.get(f"/api/cases/{draft.id}/history/crosscheck",
                                          headers=team.headers(AUDITOR))).json()
        held = await handle.query("snapshot")
    assert relayed["stage"] == "office_review"
    assert [e["type"] for e in history] == [events.FILED, "relay"]
    assert verdict["valid"] is True
    assert crosscheck["consistent"] is True, crosscheck
    assert held is not None


async def test_a_keyed_filing_sent_again_makes_its_workflow_take_the_filing_a_lost_task_stored(
    env: WorkflowEnvironment, settings: Settings, migrated_database: str, mail_sink: MailSink,
) -> None:
    """The filing's API and worker died together (tests/e2e/test_scale_out.py): the lost task had stored the filing
    and its Idempotency-Key. The applicant sends the filing again with its key: it must reach the workflow, which then
    has the case at once, not after the filing's grace (every action 503 until then)."""
    client: Client = env.client
    async with team_desk(client, settings, migrated_database) as team:
        assert team.engine is not None
        me = (await team.http.get("/api/me", headers=team.headers(APPLICANT))).json()
        actor = Actor(id=me["id"], name=me["name"], role=me["role"], org=me["org"])
        body = FilingRequest.model_validate(filing()).model_dump(mode="json")
        case_id = case_id_for(actor, "file-once", body)
        claim = KeyClaim(caller_id=actor.id, key="file-once", fingerprint=fingerprint(case_id, FILING, body),
                         expires_at=datetime.now(UTC) + timedelta(hours=1))
        draft = new_case(case_id, FilingRequest.model_validate(body), actor, datetime.now(UTC),
                         settings.service_levels())
        header = EventHeader(case_id=case_id, seq=1, type=events.FILED, actor=actor.model_dump(mode="json"),
                             at=draft.created_at, stage_before=None, stage_after=draft.stage,
                             prev_hash=draft.last_hash, salt=uuid.uuid4().hex)
        handle = await client.start_workflow(
            CASE_WORKFLOW, CaseInput(case_id=case_id, service_levels=settings.service_levels()),
            id=workflow_id(case_id), task_queue=settings.temporal_task_queue,
        )
        activity = ActivityEnvironment()
        activity.info = dataclasses.replace(activity.info, workflow_id=workflow_id(case_id))
        lost = RecordCaseEvent(header=header, payload=body, state=draft.model_copy(update={"seq": 1}), claim=claim)
        await activity.run(CaseRecords(team.engine, settings.audit_keys.signer).record_case_event, lost)

        again = await team.http.post("/api/cases", json=filing(), headers={
            **team.headers(APPLICANT), "Idempotency-Key": "file-once"})
        held = await handle.query("snapshot")
        relayed = await team.act(case_id, "relay", COORDINATOR, offices=[SBIC])
        history = await team.history(case_id, AUDITOR)
    assert again.status_code == 201 and again.json()["id"] == case_id, again.text
    assert held is not None, "the workflow took the filing when it was sent again"
    assert relayed.status_code == 200, relayed.text
    assert [e["type"] for e in history] == [events.FILED, "relay"]
