"""Bulk reassignment over HTTP on real Temporal and PostgreSQL (issue 21): a person's open cases move to a colleague,
each by one audited `reassign`, with progress and per-case results; and the job carries on after its worker dies.

Each test has a database of its own (`tests.helpers.team`), so "officer of SBIC's cases" are only the test's own.
"""

from __future__ import annotations

import asyncio
import html
import uuid
from typing import Any

from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from activities.reassignment import Reassigning
from api.console.labels_en import EN
from contracts.reassignment import REASSIGN_CASE, ReassignCase
from domain.reassignment import ReassignOutcome
from infra.settings import Settings
from infra.users import revoke_user
from tests.helpers.desk import Desk
from tests.helpers.forms import csrf_of
from tests.helpers.mail import MailSink
from tests.helpers.people import APPLICANT, AUDITOR, COORDINATOR, SBIC, SJ, manager, officer
from tests.helpers.reassigning import accepted_by, finished, start, user_id
from tests.helpers.team import SECOND_OFFICER, Team, team_desk
from workers.case_worker import build_worker


async def reassign_events(desk: Desk, case: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in await desk.history(case, COORDINATOR) if e["type"] == "reassign"]


async def test_a_managers_bulk_reassignment_moves_each_case_by_one_audited_reassign(team: Team) -> None:
    mine = [await accepted_by(team, officer(SBIC)) for _ in range(3)]
    in_review = await team.file(APPLICANT)
    await team.ok(in_review, "relay", COORDINATOR, offices=[SBIC, SJ])
    await team.ok(in_review, "claim", officer(SBIC))  # no lead office yet: a manager may not reassign it
    colleagues = await accepted_by(team, SECOND_OFFICER)
    second = await user_id(team, SECOND_OFFICER)

    started = await start(team, manager(SBIC), officer(SBIC), SECOND_OFFICER)
    assert started.status_code == 202, started.text
    assert started.json()["from"]["name"] == "Officer of sbic" and started.json()["to"]["id"] == second
    job = await finished(team, started.headers["location"], manager(SBIC))

    assert (job["total"], job["done"], job["counts"]) == (4, 4, {"reassigned": 3, "refused": 1})
    refused = [r for r in job["results"] if r["outcome"] == "refused"]
    assert [r["case_id"] for r in refused] == [in_review["id"]] and "lead office" in refused[0]["detail"]
    for case in mine:
        seen = (await team.get(case, COORDINATOR)).json()
        assert (seen["assignee"], seen["assignee_id"], seen["assignee_org"]) == ("Second officer", second, SBIC)
        [event] = await reassign_events(team, case)
        assert event["actor"]["name"] == "Manager of sbic" and event["payload"]["assignee_id"] == second
    assert (await team.get(in_review, COORDINATOR)).json()["assignee"] == "Officer of sbic"
    assert await reassign_events(team, colleagues) == []  # never assigned to the officer who left
    work = await team.http.get("/api/work", headers=team.headers(SECOND_OFFICER))
    assert {c["id"] for c in mine} <= {c["id"] for c in work.json()["items"]}

    pages, cursor = [], ""
    while True:
        page = (await team.http.get(f"{started.headers['location']}?limit=3{cursor}",
                                    headers=team.headers(AUDITOR))).json()
        pages.append([r["case_id"] for r in page["results"]])
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert [len(p) for p in pages] == [3, 1]
    assert sorted(c for p in pages for c in p) == sorted([c["id"] for c in mine] + [in_review["id"]])


async def test_a_coordinator_reassigns_what_the_filter_keeps(team: Team) -> None:
    matching = await accepted_by(team, officer(SBIC))
    in_review = await team.file(APPLICANT)
    await team.ok(in_review, "relay", COORDINATOR, offices=[SBIC, SJ])
    await team.ok(in_review, "claim", officer(SBIC))

    started = await start(team, COORDINATOR, officer(SBIC), SECOND_OFFICER, stage="office_review")
    job = await finished(team, started.headers["location"], COORDINATOR)
    assert (job["total"], job["counts"]) == (1, {"reassigned": 1})
    assert (await team.get(in_review, COORDINATOR)).json()["assignee"] == "Second officer"
    assert (await team.get(matching, COORDINATOR)).json()["assignee"] == "Officer of sbic"


async def test_the_cases_of_someone_who_has_left_are_moved_in_bulk(team: Team) -> None:
    """The officer left and their access was revoked first: their open cases still move, in the API and from the
    console's form, which offers them as the one leaving (never as the one taking over)."""
    case = await accepted_by(team, officer(SBIC))
    leaver = await user_id(team, officer(SBIC))
    assert team.sessions is not None and await revoke_user(team.sessions, leaver)
    body = {"from": leaver, "to": await user_id(team, SECOND_OFFICER), "filter": {}}
    started = await team.http.post("/api/work/reassign", json=body, headers=team.headers(manager(SBIC)))
    assert started.status_code == 202, started.text
    job = await finished(team, started.headers["location"], manager(SBIC))
    assert (job["total"], job["counts"]) == (1, {"reassigned": 1})
    assert (await team.get(case, COORDINATOR)).json()["assignee"] == "Second officer"
    backwards = {"from": body["to"], "to": leaver, "filter": {}}
    refused = await team.http.post("/api/work/reassign", json=backwards, headers=team.headers(manager(SBIC)))
    assert refused.status_code == 422 and "to" in refused.text
    async with team.browser(manager(SBIC)) as browser:
        form = (await browser.get("/reassign")).text
    leaving, taking_over = form.split('id="reassign-to"')
    assert f'<option value="{leaver}"' in leaving and leaver not in taking_over


async def test_who_may_reassign_in_bulk_and_what_is_refused(team: Team) -> None:
    unknown = {"from": await user_id(team, officer(SBIC)), "to": "00000000-0000-0000-0000-000000000000"}
    for body, field in [(unknown, "to"), ({**unknown, "to": await user_id(team, officer(SJ))}, "to"),
                        ({**unknown, "to": unknown["from"]}, "to"), ({**unknown, "from": "nobody"}, "from")]:
        response = await team.http.post("/api/work/reassign", json=body, headers=team.headers(manager(SBIC)))
        assert response.status_code == 422 and response.json()["errors"][0]["loc"] == ["body", field], response.text
    stray = await team.http.post("/api/work/reassign", headers=team.headers(COORDINATOR),
                                 json={**unknown, "filter": {"colour": "red"}})
    assert stray.status_code == 422 and stray.json()["errors"][0]["loc"][-1] == "colour"
    assert (await start(team, manager(SJ), officer(SBIC), SECOND_OFFICER)).status_code == 403  # not their office
    assert (await start(team, officer(SBIC), officer(SBIC), SECOND_OFFICER)).status_code == 403
    started = await start(team, manager(SBIC), officer(SBIC), SECOND_OFFICER)
    location = started.headers["location"]
    assert (await team.http.get(location, headers=team.headers(manager(SJ)))).status_code == 404
    assert (await team.http.get(location, headers=team.headers(officer(SBIC)))).status_code == 404
    assert (await finished(team, location, COORDINATOR))["total"] == 0


class Stalling(Reassigning):
    """A worker's steps that reassign `before` cases and then hang, as a worker does that is about to die."""

    def __init__(self, engine: Any, before: int) -> None:
        super().__init__(engine)
        self.left = before

    @activity.defn(name=REASSIGN_CASE)
    async def reassign_case(self, step: ReassignCase) -> ReassignOutcome:
        self.left -= 1
        if self.left < 0:
            await asyncio.Event().wait()  # until the worker goes
        return await super().reassign_case(step)


async def test_a_bulk_reassignment_carries_on_after_its_worker_dies(
    dev_server: WorkflowEnvironment, settings: Settings, migrated_database: str, mail_sink: MailSink
) -> None:
    """On the dev server (a real Temporal server, as in production: the workflows the dead worker had cached go to
    the next worker), with a task queue of the test's own."""
    settings = settings.model_copy(update={"temporal_task_queue": f"test-{uuid.uuid4()}"})
    env = dev_server
    async with team_desk(env.client, settings, migrated_database, worker=False) as team:
        assert team.engine is not None
        first = build_worker(env.client, settings.temporal_task_queue, team.engine, keys=settings.audit_keys,
                             reassigning=Stalling(team.engine, before=2))
        async with first:
            cases = [await accepted_by(team, officer(SBIC)) for _ in range(5)]
            started = await start(team, manager(SBIC), officer(SBIC), SECOND_OFFICER)
            halfway = await finished(team, started.headers["location"], manager(SBIC), minimum=2)
        assert (halfway["status"], halfway["done"]) == ("running", 2)

        async with build_worker(env.client, settings.temporal_task_queue, team.engine, keys=settings.audit_keys):
            job = await finished(team, started.headers["location"], manager(SBIC))
        assert (job["total"], job["counts"]) == (5, {"reassigned": 5})
        for case in cases:
            assert len(await reassign_events(team, case)) == 1  # once each, none twice
            assert (await team.get(case, COORDINATOR)).json()["assignee"] == "Second officer"


async def test_the_console_starts_a_bulk_reassignment_and_shows_its_progress_bar(team: Team) -> None:
    case = await accepted_by(team, officer(SBIC))
    leaving, taking_over = await user_id(team, officer(SBIC)), await user_id(team, SECOND_OFFICER)
    async with team.browser(manager(SBIC)) as browser, team.browser(SECOND_OFFICER) as officer_browser:
        form = (await browser.get("/reassign")).text
        assert f'<option value="{taking_over}"' in form and 'href="/reassign?org=' not in form  # own office only
        wrong = await browser.post("/reassign", data={"csrf_token": csrf_of(form), "from": leaving, "to": leaving})
        assert wrong.status_code == 422 and EN["reassign.bad_to"] in html.unescape(wrong.text)
        started = await browser.post("/reassign", data={"csrf_token": csrf_of(form), "from": leaving,
                                                        "to": taking_over, "stage": "matching"})
        assert started.status_code == 303
        location = started.headers["location"]
        await finished(team, location.replace("/reassign", "/api/work/reassign"), manager(SBIC))
        shown = (await browser.get(location)).text
        assert 'data-done="1" data-total="1"' in shown and "<progress" in shown
        assert f'<tr data-case="{case["id"]}">' in shown and EN["reassign.outcome.reassigned"] in shown
        assert (await officer_browser.get("/reassign")).status_code == 403
        assert (await officer_browser.get(location)).status_code == 404  # an officer does not read the job
