"""Stuck cases are visible: a step that fails for good refuses its action with a clear problem, the case stays
open to every other action, and operators see an incident (API, console, metrics) — on real parts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio import workflow
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.matching import Matching
from api.app import create_app
from contracts.activities import FindCandidates
from contracts.case import CASE_WORKFLOW, workflow_id
from domain.model import Candidate, Role
from infra.settings import Settings
from infra.sme_registry import seed_demo_smes
from services import incidents
from services.context import Services
from tests.helpers.desk import Desk
from tests.helpers.people import ADMIN, APPLICANT, COORDINATOR, SBIC, SJ, officer
from workers.case_worker import build_worker, workflow_runner


class BrokenMatching(Matching):
    """The ranking as it was for a filing of many distinct words: building its query overflows the stack."""

    broken = True

    async def rank(self, command: FindCandidates, as_of: datetime) -> list[Candidate]:
        if self.broken:
            raise RecursionError("maximum recursion depth exceeded")
        return await super().rank(command, as_of)


@pytest.fixture
async def broken_desk(
    env: WorkflowEnvironment, settings: Settings, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession],
    tokens: dict[tuple[Role, str], str], mail_sink: object,
) -> AsyncIterator[Desk]:
    """The real app and worker, but matching fails the way a bug does (every attempt, the same way)."""
    await seed_demo_smes(engine)
    worker = build_worker(env.client, settings.temporal_task_queue, engine, keys=settings.audit_keys,
                          matching=BrokenMatching(engine))
    async with worker:
        app = create_app(Services(settings, engine, sessions, env.client))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk") as http:
            yield Desk(http, tokens)


async def test_a_step_that_fails_for_good_is_refused_cleanly_and_seen_by_operators(broken_desk: Desk) -> None:
    desk = broken_desk
    case = await desk.file(APPLICANT)
    await desk.ok(case, "relay", COORDINATOR, offices=[SJ, SBIC])
    await desk.ok(case, "accept_case", officer(SBIC))

    refused = await desk.act(case, "run_matching", officer(SBIC), limit=5)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "urn:case-desk:step_failed" and refused.json()["step"] == "rank_candidates"
    after = (await desk.get(case, officer(SBIC))).json()
    assert after["stage"] == "matching" and after["candidates"] == []  # nothing half-written
    assert (await desk.ok(case, "add_note", officer(SBIC), text="matching is down"))["notes_total"] == 1

    listed = await desk.http.get("/api/operations/incidents", headers=desk.headers(ADMIN))
    assert listed.status_code == 200, listed.text
    mine = [i for i in listed.json()["incidents"] if i["case_id"] == case["id"]]
    assert [(i["step"], i["kind"], i["attempts"]) for i in mine] == [("rank_candidates", "permanent", 3)]
    assert mine[0]["error"] == "RecursionError: maximum recursion depth exceeded"
    assert (await desk.http.get("/api/operations/incidents", headers=desk.headers(officer(SBIC)))).status_code == 403

    metrics = (await desk.http.get("/metrics")).text
    assert 'casedesk_incidents{step="rank_candidates"}' in metrics
    assert 'casedesk_step_failures_total{kind="permanent",step="rank_candidates"}' in metrics

    BrokenMatching.broken = False  # the cause is fixed: the same action now goes through
    try:
        matched = await desk.ok(case, "run_matching", officer(SBIC), limit=5)
    finally:
        BrokenMatching.broken = True
    assert matched["candidates"]
    listed = await desk.http.get("/api/operations/incidents", headers=desk.headers(ADMIN))
    assert [i for i in listed.json()["incidents"] if i["case_id"] == case["id"]] == []  # resolved by the success

    closed = await desk.ok(case, "withdraw", APPLICANT, reason="found a partner elsewhere")
    assert closed["outcome"] == "withdrawn"


@workflow.defn(name=CASE_WORKFLOW, sandboxed=False)
class CaseWithABug:
    """A case workflow whose own code fails (a plain exception fails its workflow task, again and again)."""

    @workflow.run
    async def run(self, _: object) -> None:
        raise RuntimeError("a bug in the workflow's code")


async def test_a_workflow_task_that_keeps_failing_is_found_by_the_scan(
    dev_server: WorkflowEnvironment, engine: AsyncEngine
) -> None:
    client: Client = dev_server.client
    queue = f"buggy-{uuid.uuid4()}"
    case_id = str(uuid.uuid4())
    async with Worker(client, task_queue=queue, workflows=[CaseWithABug], workflow_runner=workflow_runner()):
        await client.start_workflow(CASE_WORKFLOW, {"case_id": case_id}, id=workflow_id(case_id), task_queue=queue)
        found: list[incidents.Incident] = []
        for _ in range(100):  # the server retries a failed workflow task at once, then every ten seconds
            found = [i for i in await incidents.scan(client, engine) if i.case_id == case_id]
            if found:
                break
            await dev_server.sleep(0.2)
        assert [(i.step, i.kind) for i in found] == [("workflow_task", "workflow_task")]
        assert [i.case_id for i in await incidents.open_incidents(engine, case_id)] == [case_id]
        await client.get_workflow_handle(workflow_id(case_id)).terminate("test over")
    await incidents.scan(client, engine)  # the workflow has ended: the scan resolves its incident
    assert await incidents.open_incidents(engine, case_id) == []  # not running any more: resolved
