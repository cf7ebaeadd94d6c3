"""Queues and claiming over HTTP (issue 21): `claim` and `release`, "My work" and `GET /api/work/next`.

Each test has a database of its own (`tests.helpers.team`), so an office's queue holds only the test's cases.
"""

from __future__ import annotations

import asyncio
import html
import re
from datetime import timedelta
from typing import Any

from temporalio.testing import WorkflowEnvironment

from api.console.labels_en import EN
from tests.helpers.desk import Desk
from tests.helpers.forms import csrf_of
from tests.helpers.people import APPLICANT, COORDINATOR, SBIC, SJ, Person, manager, officer
from tests.helpers.team import SECOND_OFFICER, Team


async def relayed(desk: Desk, *offices: str) -> dict[str, Any]:
    case = await desk.file(APPLICANT)
    return await desk.ok(case, "relay", COORDINATOR, offices=list(offices))


async def my_work(desk: Desk, person: Person, query: str = "") -> list[str]:
    response = await desk.http.get(f"/api/work{query}", headers=desk.headers(person))
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["items"]]


async def take_next(desk: Desk, person: Person) -> str | None:
    response = await desk.http.get("/api/work/next", headers=desk.headers(person))
    assert response.status_code in (200, 204), response.text
    return response.json()["id"] if response.status_code == 200 else None


async def test_claiming_and_releasing_are_audited_actions_of_the_office_the_case_waits_on(team: Desk) -> None:
    case = await relayed(team, SBIC)
    assert "claim" in (await team.get(case, officer(SBIC))).json()["allowed_actions"]
    claimed = await team.ok(case, "claim", officer(SBIC))
    assert claimed["assignee"] == "Officer of sbic" and claimed["assignee_org"] == SBIC
    assert "release" in claimed["allowed_actions"] and "claim" not in claimed["allowed_actions"]
    assert (await team.get(case, APPLICANT)).json()["assignee_id"] is None  # staff ids stay inside

    taken = await team.act(case, "claim", SECOND_OFFICER)
    assert taken.status_code == 409 and "Officer of sbic" in taken.json()["detail"]
    assert (await team.act(case, "release", SECOND_OFFICER)).status_code == 403
    assert (await team.act(case, "claim", COORDINATOR)).status_code == 403
    assert (await team.act(case, "claim", officer(SJ))).status_code == 404  # never relayed to SJ

    released = await team.ok(case, "release", manager(SBIC))
    assert (released["assignee"], released["assignee_id"]) == (None, None)
    assert (await team.act(case, "release", officer(SBIC))).status_code == 409
    events = await team.history(case, COORDINATOR)
    assert [(e["type"], e["actor"]["name"]) for e in events[-2:]] == [
        ("claim", "Officer of sbic"), ("release", "Manager of sbic")]


async def test_my_work_lists_mine_then_the_queue_by_urgency_filtered_and_a_page_at_a_time(
    team: Desk, env: WorkflowEnvironment
) -> None:
    first, second = await relayed(team, SBIC), await relayed(team, SBIC, SJ)
    await env.sleep(timedelta(days=20))  # both past their office review's due date
    third = await relayed(team, SBIC)
    colleagues = await relayed(team, SBIC)
    await team.ok(colleagues, "claim", SECOND_OFFICER)
    elsewhere = await relayed(team, SJ)
    closed = await relayed(team, SBIC)
    await team.ok(closed, "withdraw", APPLICANT, reason="changed plans")

    assert await take_next(team, officer(SBIC)) == first["id"]  # overdue and soonest due
    assert await my_work(team, officer(SBIC)) == [first["id"], second["id"], third["id"]]
    assert await my_work(team, SECOND_OFFICER) == [colleagues["id"], second["id"], third["id"]]
    assert await my_work(team, officer(SJ)) == [second["id"], elsewhere["id"]]

    assert await my_work(team, officer(SBIC), "?overdue=true") == [first["id"], second["id"]]
    assert await my_work(team, officer(SBIC), "?overdue=false") == [third["id"]]
    assert await my_work(team, officer(SBIC), "?stage=matching") == []
    assert await my_work(team, officer(SBIC), f"?q={third['reference'].lower()}") == [third["id"]]
    due = third["due_at"].replace("+", "%2B")
    assert await my_work(team, officer(SBIC), f"?due_before={due}") == [first["id"], second["id"]]
    naive = await team.http.get("/api/work?due_before=2026-01-01T00:00:00", headers=team.headers(officer(SBIC)))
    assert naive.status_code == 422 and "due_before" in naive.json()["detail"]

    pages, cursor = [], ""
    while True:
        response = await team.http.get(f"/api/work?limit=1{cursor}", headers=team.headers(officer(SBIC)))
        body = response.json()
        pages += [c["id"] for c in body["items"]]
        if body["next_cursor"] is None:
            break
        cursor = f"&cursor={body['next_cursor']}"
    assert pages == [first["id"], second["id"], third["id"]]


async def test_two_officers_asking_for_the_next_case_at_once_never_get_the_same_one(team: Desk) -> None:
    only = await relayed(team, SBIC)
    both = await asyncio.gather(take_next(team, officer(SBIC)), take_next(team, SECOND_OFFICER))
    assert sorted(both, key=str) == sorted([only["id"], None], key=str)
    assert await take_next(team, manager(SBIC)) is None  # the queue is empty

    cases = {(await relayed(team, SBIC))["id"], (await relayed(team, SBIC))["id"]}
    taken = await asyncio.gather(take_next(team, officer(SBIC)), take_next(team, SECOND_OFFICER))
    assert set(taken) == cases
    assignees = {(await team.get(c, COORDINATOR)).json()["assignee"] for c in cases}
    assert assignees == {"Officer of sbic", "Second officer"}


async def test_only_office_staff_take_cases_from_a_queue(team: Desk) -> None:
    refused = await team.http.get("/api/work/next", headers=team.headers(COORDINATOR))
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"


def listed(page: str) -> list[str]:
    """The case ids of the page's case table, in order."""
    return re.findall(r'<tr data-case="([^"]+)"', page)


async def test_the_console_shows_my_work_filters_it_and_takes_the_next_case(team: Team) -> None:
    waiting, later = await relayed(team, SBIC, SJ), await relayed(team, SBIC)
    coordinators = await team.file(APPLICANT)
    async with team.browser(officer(SBIC)) as sbic, team.browser(COORDINATOR) as jetro:
        page = (await sbic.get("/work")).text
        assert listed(page) == [waiting["id"], later["id"]] and 'action="/work/next"' in page
        assert listed((await jetro.get("/work")).text) == [coordinators["id"]]  # screening waits on JETRO
        assert 'action="/work/next"' not in (await jetro.get("/work")).text

        taken = await sbic.post("/work/next", data={"csrf_token": csrf_of(page)})
        assert taken.status_code == 303 and taken.headers["location"] == f"/cases/{waiting['id']}?done=claim"
        mine = (await sbic.get("/work")).text
        assert listed(mine) == [waiting["id"], later["id"]] and mine.count(EN["badge.assigned_to_you"]) == 1
        assert listed((await sbic.get("/work?stage=matching")).text) == []
        await sbic.post("/work/next", data={"csrf_token": csrf_of(page)})
        empty = await sbic.post("/work/next", data={"csrf_token": csrf_of(page)})
        assert empty.headers["location"] == "/work?empty=true"
        assert EN["work.queue_empty"] in html.unescape((await sbic.get(empty.headers["location"])).text)

        await team.ok(later, "withdraw", APPLICANT, reason="changed plans")
        assert listed((await sbic.get("/work")).text) == [waiting["id"]]  # closed: under "All cases" only
        assert later["id"] in listed((await sbic.get("/cases")).text)
        refused = await jetro.post("/work/next", data={"csrf_token": csrf_of((await jetro.get("/work")).text)})
        assert refused.status_code == 403
