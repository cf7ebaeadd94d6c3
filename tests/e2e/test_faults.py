"""Faults under load, on real processes: PostgreSQL stopped for 10 s, the Temporal dev server restarted,
a filing whose answer was lost sent again. Each time every case finishes at its outcome with exactly one
audit event per accepted action, intact chains, no case filed twice, and no product process gave up.

One stack (two workers, two APIs) serves the three tests in turn; each leaves it whole for the next.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from contracts.case import workflow_id
from domain.chain_verification import verify_chain
from domain.filing import FilingRequest
from domain.model import Actor, Role
from infra.audit_trail import stored_entries
from infra.tables import cases
from infra.users import USER_NAMESPACE
from services.idempotency import case_id_for
from tests.helpers.cluster import Cluster, Driver, plan_cases, problems_with, running_cluster, summary
from tests.helpers.people import APPLICANT, COORDINATOR
from tests.helpers.support import filing

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

CASES = 30
OUTAGE = 10.0
TIMEOUT = 150.0


@pytest.fixture(scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    async with running_cluster(Path(tmp_path_factory.mktemp("faults")), workers=2, apis=2) as cluster:
        yield cluster


async def drive_through(cluster: Cluster, label: str, fault: Callable[[], Awaitable[None]]) -> tuple[Driver, str]:
    """Drive CASES cases at once; once they are all under way (every filing and then some answered), run
    `fault`. Fails listing every case that did not end as it should; returns the driver and a summary."""
    runs = plan_cases(CASES, label)
    async with Driver(cluster.apis, cluster.tokens, cases_at_once=CASES, timeout=TIMEOUT) as driver:
        under_way = driver.after(actions=CASES + CASES // 3)
        in_flight, elapsed = await driver.drive_with_fault(runs, under_way, fault, TIMEOUT)
        assert all(m.alive for m in cluster.members), f"a product process gave up: {cluster.describe()}"
        problems = await problems_with(cluster, driver, runs, via=cluster.apis[-1])
        assert not problems, "\n".join(problems[:30]) + f"\n({len(problems)} problems; {cluster.describe()})"
        assert in_flight > 0, "the fault should have struck requests in flight"
        return driver, f"{summary(driver, runs, elapsed)}; {in_flight} requests in flight at the fault"


async def test_postgres_stopped_for_ten_seconds_under_load_loses_nothing(cluster: Cluster) -> None:
    """Requests are refused (503) or wait while the database is down; activities retry; nothing is lost."""

    async def outage() -> None:
        await cluster.stop_postgres()
        await asyncio.sleep(OUTAGE)
        cluster.start_postgres()

    try:
        driver, report = await drive_through(cluster, "Pg outage", outage)
        assert driver.failures["503"], "requests during the outage should have been answered 503"
        print(f"\nPostgreSQL down {OUTAGE:.0f}s: {report}")
    finally:
        if cluster.postgres is None or cluster.postgres.popen.poll() is not None:
            cluster.start_postgres()


async def test_temporal_restarted_under_load_cases_resume(cluster: Cluster) -> None:
    """The dev server stops and starts again on the same port and database file; cases carry on."""

    assert cluster.temporal is not None
    before = cluster.temporal.popen
    down: list[float] = []

    async def restart() -> None:
        started = time.monotonic()
        await cluster.restart_temporal()
        down.append(time.monotonic() - started)

    _, report = await drive_through(cluster, "Temporal restart", restart)
    assert before.returncode is not None and cluster.temporal.popen.pid != before.pid, "not restarted"
    print(f"\nTemporal restarted (down {down[0]:.1f}s): {report}")


async def test_a_filing_sent_again_after_its_answer_was_lost_is_one_case(cluster: Cluster) -> None:
    """With no worker running, a filing stays unanswered: Temporal holds it. One client gives up on its
    request (read timeout), another's API process is SIGKILLed under it; both send the filing again with
    the same Idempotency-Key to the other API once workers are back, and get the one case filed."""
    token = cluster.tokens[APPLICANT]
    applicant = Actor(id=str(uuid.uuid5(USER_NAMESPACE, token)), name="-", role=Role.APPLICANT, org=APPLICANT[1])
    headers = {"Authorization": f"Bearer {token}"}
    first, other = cluster.apis
    label = uuid.uuid4().hex[:8]
    keys = {"client gave up": f"drop-{label}-timeout", "API killed": f"drop-{label}-kill"}
    companies = {why: f"Dropped {label} {why}" for why in keys}
    bodies = {why: FilingRequest.model_validate(filing(company=companies[why])).model_dump(mode="json")
              for why in keys}
    expected = {why: case_id_for(applicant, key, bodies[why]) for why, key in keys.items()}
    temporal = await Client.connect(cluster.temporal_address, namespace="default")

    async def reached_temporal(case_id: str) -> None:
        async with asyncio.timeout(20):
            while True:
                try:
                    await temporal.get_workflow_handle(workflow_id(case_id)).describe()
                    return
                except RPCError as error:
                    if error.status != RPCStatusCode.NOT_FOUND:
                        raise
                await asyncio.sleep(0.1)

    for worker in cluster.workers:
        await cluster.kill(worker)
    async with httpx.AsyncClient(base_url=first.base_url) as http:
        why = "client gave up"
        with pytest.raises(httpx.ReadTimeout):
            await http.post("/api/cases", json=filing(company=companies[why]), timeout=5,
                            headers={**headers, "Idempotency-Key": keys[why]})
        await reached_temporal(expected[why])

        why = "API killed"
        pending = asyncio.create_task(http.post("/api/cases", json=filing(company=companies[why]), timeout=30,
                                                headers={**headers, "Idempotency-Key": keys[why]}))
        await reached_temporal(expected[why])
        await cluster.kill(first)
        with pytest.raises(httpx.TransportError):
            await pending

    await asyncio.gather(*(cluster.restart(member) for member in [*cluster.workers, first]))
    async with httpx.AsyncClient(timeout=60) as http:
        for why, key in keys.items():
            for api in (other, other, first):  # again, and again on the restarted API
                again = await http.post(f"{api.base_url}/api/cases", json=filing(company=companies[why]),
                                        headers={**headers, "Idempotency-Key": key})
                assert again.status_code == 201, f"{why} via {api.name}: {again.status_code} {again.text}"
                assert again.json()["id"] == expected[why], why

    async with cluster.sessions() as session:
        for why, company in companies.items():
            filed = await session.scalar(select(func.count()).where(cases.c.company_name == company))
            assert filed == 1, f"{why}: {filed} cases"
            entries = await stored_entries(cluster.sessions, expected[why])
            assert [e.type for e in entries] == ["filed"], why
            assert verify_chain(entries).valid, why
    assert all(m.alive for m in cluster.members), cluster.describe()


async def test_a_keyed_action_sent_again_after_its_api_and_every_worker_died_is_applied_once(
    cluster: Cluster,
) -> None:
    """An officer's keyed note is in flight when every worker and then its API process are SIGKILLed; sent again
    with the same Idempotency-Key to the other API, and to the restarted one, it is one note (issue 16)."""
    headers = {"Authorization": f"Bearer {cluster.tokens[COORDINATOR]}"}
    first, other = cluster.apis
    async with httpx.AsyncClient(base_url=other.base_url, timeout=60) as http:
        filed = await http.post("/api/cases", json=filing(company=f"Keyed {uuid.uuid4().hex[:8]}"),
                                headers={"Authorization": f"Bearer {cluster.tokens[APPLICANT]}"})
        assert filed.status_code == 201, filed.text
    case_id = filed.json()["id"]
    note = {"text": f"call the applicant {uuid.uuid4().hex[:8]}"}
    keyed = {**headers, "Idempotency-Key": f"note-{uuid.uuid4()}"}
    url = f"/api/cases/{case_id}/actions/add_note"

    for worker in cluster.workers:
        await cluster.kill(worker)
    async with httpx.AsyncClient(base_url=first.base_url) as http:
        pending = asyncio.create_task(http.post(url, json=note, timeout=30, headers=keyed))
        await asyncio.sleep(2)  # the Update waits at Temporal: no worker takes it
        await cluster.kill(first)
        with pytest.raises(httpx.TransportError):
            await pending
    await asyncio.gather(*(cluster.restart(member) for member in [*cluster.workers, first]))

    async with httpx.AsyncClient(timeout=60) as http:
        for api in (other, first, other):
            again = await http.post(f"{api.base_url}{url}", json=note, headers=keyed)
            assert again.status_code == 200, f"via {api.name}: {again.status_code} {again.text}"
    entries = await stored_entries(cluster.sessions, case_id)
    assert [e.payload.get("text") for e in entries if e.type == "add_note"] == [note["text"]]
    assert verify_chain(entries).valid
    assert all(m.alive for m in cluster.members), cluster.describe()
