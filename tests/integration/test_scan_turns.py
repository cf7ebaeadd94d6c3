"""One worker of a deployment scans Temporal for incidents at a time: every worker (`alliance run`'s `RUN_WORKERS`,
or a deployment's own) runs the watch, and each used to describe every running case and resolve what its own view
did not show, so N workers made N times the calls and one could resolve what another had just opened."""

from __future__ import annotations

import asyncio
import math
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from contracts.case import workflow_id
from infra.incidents import take_scan_turn
from infra.tables import incidents, scan_turns
from services.incidents import scan_turn, watch

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


async def test_workers_asking_at_once_take_one_turn_and_the_next_comes_with_the_interval(registry: AsyncEngine) -> None:
    asked = await asyncio.gather(*(take_scan_turn(registry, 60, NOW) for _ in range(8)))
    assert sorted(asked) == [False] * 7 + [True]
    assert not await take_scan_turn(registry, 60, NOW + timedelta(seconds=30))  # another worker, mid-interval
    assert await take_scan_turn(registry, 60, NOW + timedelta(seconds=60))  # the next turn
    assert not await take_scan_turn(registry, 60, NOW + timedelta(seconds=61))


async def test_a_turn_stamped_far_in_the_future_does_not_stop_every_scan_for_ever(registry: AsyncEngine) -> None:
    """A damaged row, or a database clock set back (a failover to a host whose clock is behind): a turn that
    starts more than an interval ahead of the database's clock is stale, not one that blocks every worker."""
    async with registry.begin() as conn:
        await conn.execute(insert(scan_turns).values(name="incidents", started_at=datetime(2999, 1, 1, tzinfo=UTC)))
    assert await take_scan_turn(registry, 60)
    assert not await take_scan_turn(registry, 60)  # the turn now starts at the database's clock again


async def test_a_turn_without_a_start_is_stale(registry: AsyncEngine) -> None:
    async with registry.begin() as conn:
        await conn.execute(text("ALTER TABLE scan_turns ALTER COLUMN started_at DROP NOT NULL"))
        await conn.execute(insert(scan_turns).values(name="incidents", started_at=None))
    assert await take_scan_turn(registry, 60)


async def test_an_interval_of_any_length_the_settings_accept_still_takes_turns(registry: AsyncEngine) -> None:
    """INCIDENT_SCAN_SECONDS takes any float from 0 (inf included): a worker still scans once when it starts."""
    for every in (10.0**12, 10.0**14, math.inf):
        name = f"scan-{every}"
        assert await take_scan_turn(registry, every, name=name)
        assert not await take_scan_turn(registry, every, name=name)


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


async def test_the_watch_stands_by_while_another_worker_holds_the_turn(
    dev_server: WorkflowEnvironment, registry: AsyncEngine
) -> None:
    assert await take_scan_turn(registry, 3600)  # another worker's turn, just taken
    case_id = await open_incident_of_an_ended_case(registry)
    stop = asyncio.Event()
    watching = asyncio.create_task(watch(dev_server.client, registry, 3600, stop))
    await asyncio.sleep(0.1)  # the watch begins its first turn at once, and ends it before it stops
    stop.set()
    await watching
    assert not await resolved(registry, case_id)


async def test_no_worker_takes_a_turn_while_a_scan_slower_than_the_interval_goes_on(
    dev_server: WorkflowEnvironment, registry: AsyncEngine
) -> None:
    """A scan slower than the interval (here held up by a lock on `incidents`): another worker waiting out the
    interval must not start a second scan beside it."""
    await open_incident_of_an_ended_case(registry)
    async with registry.connect() as blocker:
        await blocker.execute(text("LOCK TABLE incidents IN ACCESS EXCLUSIVE MODE"))
        slow = asyncio.create_task(scan_turn(dev_server.client, registry, 0.5))
        await asyncio.sleep(1)  # the first scan has taken its turn and waits on the lock, past the interval
        assert not slow.done()
        assert not await asyncio.wait_for(scan_turn(dev_server.client, registry, 0.5), 5)  # not a second scan
        await blocker.rollback()
    assert await slow
