"""How the benches drive a workflow: the people and the filing, a case driven from filing to an alliance with the
fund as people drive it (through the Temporal client, or as officers over HTTP), and a bare workflow taking the same
Updates."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from bench.bare import BARE_WORKFLOW
from bench.bare import FILE_UPDATE as BARE_FILE_UPDATE
from bench.measure import Phase
from contracts.case import FILE_UPDATE, FILE_UPDATE_ID, ActionCommand, CaseInput, FilingCommand, Receipt, workflow_id
from domain.filing import FilingRequest
from domain.model import FUND, JETRO, Actor, CaseState, Office, Outcome, Role
from domain.samples import sample_filing
from infra.tables import cases
from workflows.case import CaseWorkflow

UPDATES_PER_CASE = 9

APPLICANT = Actor(id="bench-applicant", name="Anna Schmidt (Acme GmbH)", role=Role.APPLICANT, org="acme-gmbh")
COORDINATOR = Actor(id="bench-coordinator", name="Kenji Sato (JETRO)", role=Role.COORDINATOR, org=JETRO)
OFFICER = Actor(id="bench-officer", name="Officer of SBIC", role=Role.OFFICE_OFFICER, org=Office.SBIC)
FUND_MEMBER = Actor(id="bench-fund", name="Yuki Tanaka (Fund committee)", role=Role.FUND_COMMITTEE, org=FUND)

REQUEST = FilingRequest.model_validate(sample_filing())
FILING = REQUEST.model_dump(mode="json", exclude_none=True)
HTTP_TIMEOUT = httpx.Timeout(120.0)  # a slow action is a measurement, not a failure

Drive = Callable[[Phase], Awaitable[None]]


async def read_case(engine: AsyncEngine, case_id: str) -> CaseState:
    """The case as the read model shows it (what the console and the API read; no Query to the workflow)."""
    async with engine.connect() as conn:
        snapshot = await conn.scalar(select(cases.c.snapshot).where(cases.c.id == case_id))
    return CaseState.model_validate(snapshot)


def case_driver(client: Client, task_queue: str, engine: AsyncEngine) -> Drive:
    """One case from filing to an alliance with the fund, as people drive it: Updates for actions, the read model
    for what they look at (the candidates to shortlist, the outcome), never a Query to the workflow."""

    async def drive(phase: Phase) -> None:
        case_id = str(uuid.uuid4())
        operation = WithStartWorkflowOperation(
            CaseWorkflow.run,
            CaseInput(case_id=case_id),
            id=workflow_id(case_id),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        with phase.timed("file"):
            await client.execute_update_with_start_workflow(
                FILE_UPDATE,
                FilingCommand(actor=APPLICANT, request=REQUEST),
                start_workflow_operation=operation,
                id=FILE_UPDATE_ID,
                result_type=Receipt,
            )
        handle = client.get_workflow_handle(workflow_id(case_id))

        async def act(action: str, actor: Actor, **payload: Any) -> Receipt:
            with phase.timed(action):
                receipt: Receipt = await handle.execute_update(
                    action, ActionCommand(actor=actor, payload=payload), result_type=Receipt
                )
            return receipt

        await act("relay", COORDINATOR, offices=[Office.SME_SUPPORT_JAPAN, Office.SBIC], note="strong tech fit")
        await act("accept_case", OFFICER, note="we take it")
        await act("run_matching", OFFICER, limit=5)
        best = (await read_case(engine, case_id)).candidates[0].sme_id
        await act("shortlist", OFFICER, sme_ids=[best])
        await act("record_response", OFFICER, sme_id=best, interested=True, note="keen")
        await act("select_partner", OFFICER, sme_ids=[best])
        await act("propose_investment", OFFICER, route="co_investment", amount_jpy=200_000_000,
                  rationale="opens EU channels")
        await act("approve_investment", FUND_MEMBER, note="approved")
        outcome = (await read_case(engine, case_id)).outcome
        if outcome != Outcome.ALLIANCE_FORMED_WITH_FUND:
            raise RuntimeError(f"case {case_id} ended as {outcome}, not alliance_formed_with_fund")

    return drive


BARE_ACTIONS = ("relay", "accept_case", "run_matching", "shortlist", "record_response", "select_partner",
                "propose_investment", "approve_investment")


def bare_driver(client: Client, task_queue: str, workflow_type: str = BARE_WORKFLOW) -> Drive:
    async def drive(phase: Phase) -> None:
        wf_id = f"bare-{uuid.uuid4()}"
        operation: WithStartWorkflowOperation[Any, int] = WithStartWorkflowOperation(
            workflow_type,
            UPDATES_PER_CASE,
            id=wf_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            result_type=int,
        )
        with phase.timed("file"):
            await client.execute_update_with_start_workflow(
                BARE_FILE_UPDATE, start_workflow_operation=operation, id=BARE_FILE_UPDATE, result_type=int
            )
        handle = client.get_workflow_handle(wf_id)
        done = 1
        for action in BARE_ACTIONS:
            with phase.timed(action):
                done = await handle.execute_update(action, result_type=int)
        if done != UPDATES_PER_CASE:
            raise RuntimeError(f"bare workflow {wf_id} counted {done} Updates")

    return drive


class Officers:
    """One HTTP client per officer: each lane (asyncio task) gets its own on its first case."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.clients: dict[asyncio.Task[Any], httpx.AsyncClient] = {}

    def client(self) -> httpx.AsyncClient:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("an officer drives cases from a task")
        if task not in self.clients:
            self.clients[task] = httpx.AsyncClient(base_url=self.base_url, timeout=HTTP_TIMEOUT)
        return self.clients[task]

    async def aclose(self) -> None:
        for client in self.clients.values():
            with contextlib.suppress(Exception):
                await client.aclose()
        self.clients.clear()


def expect(response: httpx.Response, status: int, what: str) -> dict[str, Any]:
    if response.status_code != status:
        raise RuntimeError(f"{what}: HTTP {response.status_code} {response.text[:300]}")
    body: dict[str, Any] = response.json()
    return body


def http_driver(officers: Officers, tokens: dict[tuple[str, str], str]) -> Drive:
    def headers(actor: Actor) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[(actor.role, actor.org)]}"}

    async def drive(phase: Phase) -> None:
        http = officers.client()
        with phase.timed("file"):
            response = await http.post("/api/cases", json=FILING, headers=headers(APPLICANT))
        case_id = expect(response, 201, "file")["id"]

        async def act(action: str, actor: Actor, **payload: Any) -> dict[str, Any]:
            with phase.timed(action):
                response = await http.post(f"/api/cases/{case_id}/actions/{action}", json=payload,
                                           headers=headers(actor))
            return expect(response, 200, action)

        await act("relay", COORDINATOR, offices=[Office.SME_SUPPORT_JAPAN, Office.SBIC], note="strong tech fit")
        await act("accept_case", OFFICER, note="we take it")
        matched = await act("run_matching", OFFICER, limit=5)
        best = matched["candidates"][0]["sme_id"]
        await act("shortlist", OFFICER, sme_ids=[best])
        await act("record_response", OFFICER, sme_id=best, interested=True, note="keen")
        await act("select_partner", OFFICER, sme_ids=[best])
        await act("propose_investment", OFFICER, route="co_investment", amount_jpy=200_000_000,
                  rationale="opens EU channels")
        closed = await act("approve_investment", FUND_MEMBER, note="approved")
        if closed["outcome"] != Outcome.ALLIANCE_FORMED_WITH_FUND:
            raise RuntimeError(f"case {case_id} ended as {closed['outcome']}, not alliance_formed_with_fund")

    return drive
