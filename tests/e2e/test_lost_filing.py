"""A filing recorded in the workflow task that accepted it (a local activity, issue 15), that task lost and the
filing's Update never delivered again (its caller gave up while Temporal restarted): the case is on the trail and in
the read model, chained and signed, but its workflow never took it. Once the filing's grace has passed, the workflow
takes the filing stored for it instead of ending: the case goes on, and is never a case no workflow runs."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from temporalio.client import Client
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.records import CaseRecords
from contracts.case import CASE_WORKFLOW, CaseInput, workflow_id
from domain import events
from infra.settings import Settings
from tests.helpers.mail import MailSink
from tests.helpers.people import AUDITOR, COORDINATOR, SBIC
from tests.helpers.recording import filing_step
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
