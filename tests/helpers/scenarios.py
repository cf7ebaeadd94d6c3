"""Cases taken over HTTP to a stage (as the demo people, through the Desk), and time travel on the test server."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from temporalio.testing import WorkflowEnvironment

from domain.calendar import TOKYO
from tests.helpers.desk import Desk
from tests.helpers.people import APPLICANT, COORDINATOR, SBIC, SJ, officer


async def to_matching(desk: Desk) -> dict[str, Any]:
    case = await desk.file(APPLICANT)
    await desk.ok(case, "relay", COORDINATOR, offices=[SJ, SBIC], note="strong tech fit")
    return await desk.ok(case, "accept_case", officer(SBIC), note="we take it")


async def to_fund_consideration(desk: Desk) -> dict[str, Any]:
    case = await to_matching(desk)
    matched = await desk.ok(case, "run_matching", officer(SBIC), limit=5)
    best = matched["candidates"][0]["sme_id"]
    await desk.ok(case, "shortlist", officer(SBIC), sme_ids=[best])
    await desk.ok(case, "record_response", officer(SBIC), sme_id=best, interested=True, note="keen")
    return await desk.ok(case, "select_partner", officer(SBIC), sme_ids=[best])


async def to_investment_decision(desk: Desk) -> dict[str, Any]:
    case = await to_fund_consideration(desk)
    return await desk.ok(case, "propose_investment", officer(SBIC), route="co_investment",
                         amount_jpy=200_000_000, rationale="opens EU channels")


# Office review (10 business days) starting on a Monday before the year-end closure:
# (start, reminder at 5, escalation 1 at 10, escalation 2 at 15 business days).
YEAR_END = [
    (datetime(2026, 12, 21, 10, tzinfo=TOKYO), date(2026, 12, 28), date(2027, 1, 8), date(2027, 1, 18)),
    (datetime(2027, 12, 20, 10, tzinfo=TOKYO), date(2027, 12, 27), date(2028, 1, 7), date(2028, 1, 17)),
    (datetime(2028, 12, 18, 10, tzinfo=TOKYO), date(2028, 12, 25), date(2029, 1, 9), date(2029, 1, 16)),
]


async def travel_to_year_end(env: WorkflowEnvironment) -> tuple[date, date, date]:
    """Sleep (skipping time) to the next Monday of YEAR_END; return its expected reminder and escalation days.

    The test server's clock starts at today's date, so the start is the first row still ahead of it.
    """
    now = await env.get_current_time()
    start, *expected = next(row for row in YEAR_END if row[0] > now + timedelta(hours=1))
    await env.sleep(start - now)
    return expected[0], expected[1], expected[2]
