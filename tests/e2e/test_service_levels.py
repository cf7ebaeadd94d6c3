"""Reminders and escalations on the Japanese business-day clock, on Temporal's time-skipping server.

The test server's clock starts at today's date, so each test first sleeps (skipping time) to a fixed
Monday before the year-end closure; the expected days (tests.helpers.scenarios.YEAR_END) are worked out by
hand from the calendar.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from contracts import search_attributes as sa
from contracts.case import workflow_id
from domain.calendar import TOKYO, add_business_days, business_days_between, tokyo_day
from tests.helpers.desk import Desk
from tests.helpers.people import APPLICANT, COORDINATOR, SBIC, SJ, officer
from tests.helpers.scenarios import travel_to_year_end


def days_of(events: list[dict[str, Any]], kind: str) -> list[tuple[date, Any]]:
    return [(tokyo_day(datetime.fromisoformat(e["at"])), e["payload"].get("level"))
            for e in events if e["type"] == kind]


async def test_office_review_over_the_year_end_is_reminded_and_escalated_on_the_right_days(
    desk: Desk, env: WorkflowEnvironment, temporal: Client
) -> None:
    reminder, escalation_1, escalation_2 = await travel_to_year_end(env)
    case = await desk.file(APPLICANT)
    relayed = await desk.ok(case, "relay", COORDINATOR, offices=[SJ, SBIC])
    assert tokyo_day(datetime.fromisoformat(relayed["due_at"])) == escalation_1

    await env.sleep(timedelta(days=20))  # past escalation 1, before escalation 2
    overdue = await desk.http.get("/api/cases?overdue=true&sort=due", headers=desk.headers(COORDINATOR))
    assert case["id"] in [c["id"] for c in overdue.json()["items"]]
    described = await temporal.get_workflow_handle(workflow_id(case["id"])).describe()
    assert described.typed_search_attributes.get(sa.CASE_OVERDUE) is True
    assert described.typed_search_attributes.get(sa.CASE_ESCALATION) == 1

    await env.sleep(timedelta(days=30))
    events = await desk.history(case, COORDINATOR)
    assert days_of(events, "reminder") == [(reminder, None)]
    assert days_of(events, "escalation") == [(escalation_1, 1), (escalation_2, 2)]
    system = [e for e in events if e["type"] in ("reminder", "escalation")]
    assert all(e["actor"]["id"] == "system" and e["stage_after"] == "office_review" for e in system)
    assert [e["payload"]["to"] for e in system if e["type"] == "escalation"] == ["office_manager", "jetro"]
    seen = (await desk.get(case, COORDINATOR)).json()
    assert (seen["overdue"], seen["escalation_level"]) == (True, 2)


async def test_an_action_in_time_cancels_what_is_pending(desk: Desk, env: WorkflowEnvironment) -> None:
    await travel_to_year_end(env)
    case = await desk.file(APPLICANT)
    await desk.ok(case, "relay", COORDINATOR, offices=[SBIC])
    await env.sleep(timedelta(days=3))
    accepted = await desk.ok(case, "accept_case", officer(SBIC))
    assert (accepted["overdue"], accepted["escalation_level"]) == (False, 0)
    await env.sleep(timedelta(days=60))
    events = await desk.history(case, COORDINATOR)
    timed = [(e["type"], e["stage_after"]) for e in events if e["actor"]["id"] == "system"]
    assert ("reminder", "office_review") not in timed
    assert timed == [("reminder", "matching"), ("escalation", "matching"), ("escalation", "matching")]


async def test_a_pause_across_the_deadline_delays_it_by_the_paused_business_days(
    desk: Desk, env: WorkflowEnvironment
) -> None:
    reminder, escalation_1, _ = await travel_to_year_end(env)
    case = await desk.file(APPLICANT)
    await desk.ok(case, "relay", COORDINATOR, offices=[SBIC])
    await env.sleep(timedelta(days=8))  # reminded, not yet escalated
    paused = await desk.ok(case, "pause", COORDINATOR, reason="waiting on a patent search")
    await env.sleep(timedelta(days=21))  # nothing fires while paused, though the deadline passes
    assert [e["type"] for e in await desk.history(case, COORDINATOR)][-1] == "pause"
    resumed = await desk.ok(case, "resume", COORDINATOR, note="search done")

    paused_days = business_days_between(datetime.fromisoformat(paused["updated_at"]),
                                        datetime.fromisoformat(resumed["updated_at"]))
    assert paused_days >= 10
    moved = tokyo_day(add_business_days(datetime.combine(escalation_1, datetime.min.time(), TOKYO), paused_days))
    assert tokyo_day(datetime.fromisoformat(resumed["due_at"])) == moved
    await env.sleep(timedelta(days=40))
    events = await desk.history(case, COORDINATOR)
    assert days_of(events, "reminder") == [(reminder, None)]
    assert days_of(events, "escalation")[0] == (moved, 1)


async def test_unanswered_questions_expire_the_case(desk: Desk, env: WorkflowEnvironment) -> None:
    case = await desk.file(APPLICANT)
    asked = await desk.ok(case, "request_info", COORDINATOR, questions=["Which markets?"])
    due = datetime.fromisoformat(asked["due_at"])
    assert business_days_between(datetime.fromisoformat(asked["updated_at"]), due) == 20
    await env.sleep(timedelta(days=45))
    closed = (await desk.get(case, APPLICANT)).json()
    assert (closed["stage"], closed["outcome"]) == ("closed", "expired")
    events = await desk.history(case, COORDINATOR)
    assert [e["type"] for e in events] == ["filed", "request_info", "reminder", "expired"]
    assert abs(datetime.fromisoformat(events[-1]["at"]) - due) < timedelta(seconds=1)


@pytest.mark.parametrize("setting", ["sla_office_review_days"])
def test_service_levels_come_from_settings(setting: str) -> None:
    from infra.settings import Settings

    levels = Settings(**{setting: 3}).service_levels()  # type: ignore[arg-type]
    assert levels[next(s for s in levels if s.value == "office_review")] == 3
