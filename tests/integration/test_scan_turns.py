"""One worker of a deployment scans Temporal for incidents at a time: every worker (`alliance run`'s `RUN_WORKERS`,
or a deployment's own) runs the watch, and each used to describe every running case and resolve what its own view
did not show, so N workers made N times the calls and one could resolve what another had just opened."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from contracts.case import workflow_id
from infra.incidents import take_scan_turn
from infra.tables import incidents
from services.incidents import scan_turn

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


async def test_workers_asking_at_once_take_one_turn_and_the_next_comes_with_the_interval(registry: AsyncEngine) -> None:
    asked = await asyncio.gather(*(take_scan_turn(registry, 60, NOW) for _ in range(8)))
    assert sorted(asked) == [False] * 7 + [True]
    assert not await take_scan_turn(registry, 60, NOW + timedelta(seconds=30))  # another worker, mid-interval
    assert await take_scan_turn(registry, 60, NOW + timedelta(seconds=60))  # the next turn
    assert not await take_scan_turn(registry, 60, NOW + timedelta(seconds=61))


async def open_incident_of_an_ended_case(engine: AsyncEngine) -> str:
    """An open incident of a case whose workflow is not running: the next scan resolves it."""
    case_id = str(uuid.uuid4())
    async with engine.begin() as conn:
        await conn.execute(insert(incidents).values(
            id=str(uuid.uuid4()), workflow_id=workflow_id(case_id), case_id=case_id, step="record_case_event",
            kind="permanent", attempts=1, first_failure_at=NOW, last_failure_at=NOW, error="refused"))
    return case_id


async def resolved(engine: AsyncEngine, case_id: str) -> bool:
    async with engine.connect() as conn:
        return (await conn.scalar(select(incidents.c.resolved_at).where(incidents.c.case_id == case_id))) is not None


async def test_only_the_worker_that_takes_the_turn_scans(
    dev_server: WorkflowEnvironment, registry: AsyncEngine
) -> None:
    first = await open_incident_of_an_ended_case(registry)
    assert await scan_turn(dev_server.client, registry, 3600)
    assert await resolved(registry, first)

    second = await open_incident_of_an_ended_case(registry)
    assert not await scan_turn(dev_server.client, registry, 3600)  # another worker, within the hour: no scan
    assert not await resolved(registry, second)
