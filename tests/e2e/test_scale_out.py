"""Scale-out: three workers and two APIs share the load, and losing one of each mid-run loses nothing.

One PostgreSQL, one file-backed Temporal dev server, three `alliance worker` and two `alliance api`
processes. 200 cases are driven over HTTP through both APIs at once; when a third of them are done, one
worker and one API are SIGKILLed. Every case must still reach its expected outcome (read through the
surviving API), its audit events must be exactly the actions the driver was answered 200 for (retries
with the same Idempotency-Key never count twice), and every hash chain must hold.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.cluster import Driver, plan_cases, problems_with, running_cluster, summary

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

CASES = 200
CASES_AT_ONCE = 20
# The Temporal dev server (SQLite) is the bottleneck on a small machine (about 10 Updates/s on 2 cores):
# mostly short roads keep the run within its budget, while one case in ten goes all the way to the Fund.
MIX = ("fund", "rejected", "withdrawn", "rejected", "rejected", "rejected", "withdrawn", "rejected", "rejected",
       "rejected")
TIMEOUT = 240.0


async def test_three_workers_two_apis_lose_one_of_each_and_finish_every_case(tmp_path: Path) -> None:
    async with running_cluster(tmp_path / "cluster", workers=3, apis=2) as cluster:
        runs = plan_cases(CASES, "Scale", MIX)
        victim_worker, victim_api = cluster.workers[0], cluster.apis[0]
        async with Driver(cluster.apis, cluster.tokens, cases_at_once=CASES_AT_ONCE, timeout=TIMEOUT) as driver:

            async def kill_one_of_each() -> None:
                await cluster.kill(victim_worker)
                await cluster.kill(victim_api)

            third = driver.after(cases=CASES // 3)
            in_flight_at_kill, elapsed = await driver.drive_with_fault(runs, third, kill_one_of_each, TIMEOUT)

            survivors = [m for m in cluster.members if m not in (victim_worker, victim_api)]
            assert all(m.alive for m in survivors), cluster.describe()
            problems = await problems_with(cluster, driver, runs, via=cluster.apis[1])
            assert not problems, "\n".join(problems[:30]) + f"\n({len(problems)} problems; {cluster.describe()})"
            assert driver.failures, "the kill should have cost the driver some answers"
            absorbed = sum(w.log().count('"duplicate": true') for w in cluster.workers)
            print(f"\n{summary(driver, runs, elapsed)}; killed {victim_worker.name} and {victim_api.name} "
                  f"with {in_flight_at_kill} requests in flight; {absorbed} repeated event writes absorbed")
