"""Illegal or unauthorised actions are refused with a clear problem and change nothing at all:
no audit row, no read-model change, and no event in the workflow's history."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowUpdateFailedError

from contracts.case import ActionCommand, workflow_id
from domain.model import Actor, Office, Role
from infra.tables import audit_events
from tests.helpers.desk import Desk
from tests.helpers.people import (
    APPLICANT,
    AUDITOR,
    COORDINATOR,
    COORDINATOR_ACTOR,
    FUND_MEMBER,
    OTHER_APPLICANT_ACTOR,
    SBIC,
    SJ,
    officer,
)
from tests.helpers.scenarios import to_investment_decision, to_matching

# Updates and refusals behave a little differently on the two servers: prove both.
WORKFLOW_ENVIRONMENTS = ("time-skipping", "local")

UPDATE_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ADMITTED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
}


async def footprint(
    case_id: str, sessions: async_sessionmaker[AsyncSession], temporal: Client
) -> tuple[int, list[int]]:
    """Audit rows, and the Update events in the history (mail delivery may add other events meanwhile;
    the test server also keeps the workflow tasks that processed a rejected Update)."""
    async with sessions() as session:
        rows = await session.scalar(select(func.count()).where(audit_events.c.case_id == case_id))
    history = await temporal.get_workflow_handle(workflow_id(case_id)).fetch_history()
    return int(rows or 0), [e.event_type for e in history.events if e.event_type in UPDATE_EVENTS]


REFUSALS: list[tuple[str, str, tuple[Role, str], dict[str, Any], int, str]] = [
    # (case at, action, person, payload, status, words in the detail)
    ("screening", "relay", APPLICANT, {"offices": [SJ]}, 403, "applicant may not relay"),
    ("screening", "accept_case", officer(SJ), {}, 404, "no such case"),
    ("screening", "approve_investment", AUDITOR, {}, 403, "auditor may not approve_investment"),
    ("screening", "run_matching", COORDINATOR, {}, 403, "coordinator may not run_matching"),
    ("screening", "relay", COORDINATOR, {"offices": []}, 422, "offices"),
    ("screening", "relay", COORDINATOR, {"offices": ["nowhere"]}, 422, "offices"),
    ("screening", "provide_info", APPLICANT, {"answer": "x"}, 409, "the case is in screening"),
    ("matching", "relay", COORDINATOR, {"offices": [SJ]}, 409, "the case is in matching"),
    ("matching", "run_matching", officer(SJ), {}, 403, "only the lead office (sbic)"),
    ("matching", "shortlist", officer(SBIC), {"sme_ids": ["9999999999999"]}, 422, "not among the candidates"),
    ("matching", "approve_investment", FUND_MEMBER, {}, 404, "no such case"),
    ("matching", "withdraw", APPLICANT, {}, 422, "reason"),
    ("matching", "teleport", COORDINATOR, {}, 404, "no action 'teleport'"),
]


@pytest.mark.parametrize(("at", "action", "person", "payload", "status", "words"), REFUSALS,
                         ids=[f"{r[0]}-{r[1]}-{r[2][0]}-{r[4]}" for r in REFUSALS])
async def test_refused_actions_change_nothing(
    desk: Desk, sessions: async_sessionmaker[AsyncSession], temporal: Client,
    at: str, action: str, person: tuple[Role, str], payload: dict[str, Any], status: int, words: str,
) -> None:
    case = await desk.file(APPLICANT) if at == "screening" else await to_matching(desk)
    before = await footprint(case["id"], sessions, temporal)
    snapshot_before = (await desk.get(case, COORDINATOR)).json()

    response = await desk.act(case, action, person, **payload)

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert {"type", "title", "status", "detail"} <= problem.keys()
    assert words in problem["detail"]
    if status == 409:
        assert problem["stage"] == at
        assert problem["allowed_actions"] == (await desk.get(case, person)).json()["allowed_actions"]
    assert await footprint(case["id"], sessions, temporal) == before
    assert (await desk.get(case, COORDINATOR)).json() == snapshot_before


async def test_the_workflow_itself_refuses_what_the_domain_refuses(
    desk: Desk, sessions: async_sessionmaker[AsyncSession], temporal: Client,
) -> None:
    """Straight to Temporal, past the API: the Update validator keeps refused actions out of history."""
    case = await to_investment_decision(desk)
    proposer = case["proposal"]["proposed_by"]
    assert proposer == "Officer of sbic"
    handle = temporal.get_workflow_handle(workflow_id(case["id"]))
    snapshot = await handle.query("snapshot")
    proposer_actor = Actor.model_validate(snapshot["proposal"]["proposed_by"])
    same_person_on_committee = proposer_actor.model_copy(update={"role": Role.FUND_COMMITTEE})
    before = await footprint(case["id"], sessions, temporal)
    for actor, action, payload in [
        (same_person_on_committee, "approve_investment", {}),  # four-eyes
        (OTHER_APPLICANT_ACTOR, "withdraw", {"reason": "x"}),
        (COORDINATOR_ACTOR, "relay", {"offices": [str(Office.SBIC)]}),
    ]:
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(action, ActionCommand(actor=actor, payload=payload))
    assert await footprint(case["id"], sessions, temporal) == before
