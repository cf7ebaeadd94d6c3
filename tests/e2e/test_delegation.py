"""Standing in while away over HTTP (issue 21): who I am, my colleagues, delegations, acting for someone.

Each test has a database of its own (the `team` fixture), with an office of two officers.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from api.console.labels_en import EN
from domain.calendar import TOKYO
from infra.tables import notifications
from tests.helpers.forms import csrf_of
from tests.helpers.people import APPLICANT, COORDINATOR, SBIC, SJ, Person, manager, officer
from tests.helpers.team import SECOND_OFFICER, Team

NOW = datetime.now(UTC)


async def me(team: Team, person: Person) -> dict[str, Any]:
    response = await team.http.get("/api/me", headers=team.headers(person))
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def delegate(team: Team, person: Person, to: Person, days: int = 7) -> Any:
    body = {"delegate": (await me(team, to))["id"], "from": (NOW - timedelta(hours=1)).isoformat(),
            "until": (NOW + timedelta(days=days)).isoformat()}
    return await team.http.put("/api/me/delegation", json=body, headers=team.headers(person))


def acting_for(team: Team, person: Person, delegator_id: str) -> dict[str, str]:
    return {**team.headers(person), "On-Behalf-Of": delegator_id}


async def test_who_i_am_and_the_colleagues_i_can_find(team: Team) -> None:
    found = await me(team, officer(SBIC))
    assert {k: found[k] for k in ("name", "role", "org", "language", "delegation", "standing_in_for")} == {
        "name": "Officer of sbic", "role": "office_officer", "org": SBIC, "language": "en", "delegation": None,
        "standing_in_for": []}
    colleagues = await team.http.get("/api/users", headers=team.headers(officer(SBIC)))
    assert [p["name"] for p in colleagues.json()["items"]] == ["Manager of sbic", "Officer of sbic", "Second officer"]
    assert (await team.http.get("/api/users?org=jetro", headers=team.headers(officer(SBIC)))).status_code == 403
    assert (await team.http.get("/api/users?org=sbic", headers=team.headers(COORDINATOR))).status_code == 200
    assert (await team.http.get("/api/users", headers=team.headers(APPLICANT))).status_code == 403


async def test_a_delegation_is_refused_naming_the_field_that_is_wrong(team: Team) -> None:
    for not_a_colleague in (officer(SBIC), officer(SJ)):  # themself; another office's officer
        response = await delegate(team, officer(SBIC), not_a_colleague)
        assert response.status_code == 422 and response.json()["errors"][0]["loc"] == ["body", "delegate"]
    me_id = (await me(team, SECOND_OFFICER))["id"]
    backwards = {"delegate": me_id, "from": NOW.isoformat(), "until": (NOW - timedelta(days=1)).isoformat()}
    response = await team.http.put("/api/me/delegation", json=backwards, headers=team.headers(officer(SBIC)))
    assert response.status_code == 422 and response.json()["errors"][0]["loc"] == ["body", "until"]
    naive = {"delegate": me_id, "from": "2026-01-01T00:00:00", "until": "2026-01-02T00:00:00"}
    response = await team.http.put("/api/me/delegation", json=naive, headers=team.headers(officer(SBIC)))
    assert response.status_code == 422 and "from" in response.text
    assert (await delegate(team, APPLICANT, APPLICANT)).status_code == 403


async def test_a_stand_in_acts_on_the_delegators_cases_with_both_names_on_record(team: Team) -> None:
    case = await team.file(APPLICANT)
    await team.ok(case, "relay", COORDINATOR, offices=[SBIC])
    await team.ok(case, "claim", officer(SBIC))
    away = (await me(team, officer(SBIC)))["id"]
    assert (await team.act(case, "release", SECOND_OFFICER)).status_code == 403  # not their claim
    refused = await team.http.post(f"/api/cases/{case['id']}/actions/release", json={},
                                   headers=acting_for(team, SECOND_OFFICER, away))
    assert refused.status_code == 403  # no delegation yet

    saved = await delegate(team, officer(SBIC), SECOND_OFFICER)
    assert saved.status_code == 200 and saved.json()["delegate"]["name"] == "Second officer"
    assert set(saved.json()) == {"delegator", "delegate", "from", "until"}
    assert (await me(team, officer(SBIC)))["delegation"]["delegate"]["id"] == (await me(team, SECOND_OFFICER))["id"]
    assert [d["delegator"]["id"] for d in (await me(team, SECOND_OFFICER))["standing_in_for"]] == [away]
    work = await team.http.get("/api/work", headers=team.headers(SECOND_OFFICER))
    assert [c["id"] for c in work.json()["items"]] == [case["id"]]  # the delegator's case is in their work

    accepted = await team.http.post(f"/api/cases/{case['id']}/actions/accept_case", json={"note": "for Officer"},
                                    headers=acting_for(team, SECOND_OFFICER, away))
    assert accepted.status_code == 200 and accepted.json()["assignee_id"] == away  # accepted for the delegator
    event = (await team.history(case, COORDINATOR))[-1]
    assert event["type"] == "accept_case" and event["actor"]["name"] == "Second officer"
    assert event["actor"]["on_behalf_of"]["id"] == away
    released = await team.http.post(f"/api/cases/{case['id']}/actions/release", json={},
                                    headers=acting_for(team, SECOND_OFFICER, away))
    assert released.status_code == 200 and released.json()["assignee"] is None
    rewound = await team.http.get(f"/api/cases/{case['id']}", params={"as_of": datetime.now(UTC).isoformat()},
                                  headers=team.headers(COORDINATOR))  # the trail replays, stand-ins and all
    assert rewound.status_code == 200 and (rewound.json()["stage"], rewound.json()["assignee"]) == ("matching", None)

    assert (await team.http.delete("/api/me/delegation", headers=team.headers(officer(SBIC)))).status_code == 204
    assert (await me(team, officer(SBIC)))["delegation"] is None
    after = await team.http.post(f"/api/cases/{case['id']}/actions/claim", json={},
                                 headers=acting_for(team, SECOND_OFFICER, away))
    assert after.status_code == 403


async def test_standing_in_for_a_manager_gives_an_officer_no_manager_rights(team: Team) -> None:
    case = await team.file(APPLICANT)
    await team.ok(case, "relay", COORDINATOR, offices=[SBIC])
    await team.ok(case, "accept_case", SECOND_OFFICER)
    assert (await delegate(team, manager(SBIC), officer(SBIC))).status_code == 200
    boss = (await me(team, manager(SBIC)))["id"]
    headers = acting_for(team, officer(SBIC), boss)
    paused = await team.http.post(f"/api/cases/{case['id']}/actions/pause", json={"reason": "x"}, headers=headers)
    assert paused.status_code == 403 and "standing in" in paused.json()["detail"]
    # Releasing a colleague's claim is a manager's right the officer's role shares: standing in, it is allowed.
    released = await team.http.post(f"/api/cases/{case['id']}/actions/release", json={}, headers=headers)
    assert released.status_code == 200


async def test_escalations_reach_whoever_stands_in_for_the_manager(team: Team, env: WorkflowEnvironment) -> None:
    assert (await delegate(team, manager(SBIC), officer(SBIC), days=120)).status_code == 200
    case = await team.file(APPLICANT)
    await team.ok(case, "relay", COORDINATOR, offices=[SBIC])
    await env.sleep(timedelta(days=20))  # past the office review's due date: escalated to the office's managers
    assert team.sessions is not None
    async with team.sessions() as session:
        told = (await session.execute(select(notifications.c.template, notifications.c.recipient_email).where(
            notifications.c.case_id == case["id"]))).all()
    escalated = {email for template, email in told if template == "escalation"}
    assert escalated == {"manager@sbic.example", "officer@sbic.example"}


def tokyo_field(at: datetime) -> str:
    """A `datetime-local` value in Tokyo time, as a browser sends it."""
    return at.astimezone(TOKYO).strftime("%Y-%m-%dT%H:%M")


async def test_the_console_sets_and_cancels_a_delegation(team: Team) -> None:
    second = (await me(team, SECOND_OFFICER))["id"]
    async with team.browser(officer(SBIC)) as browser, team.browser(SECOND_OFFICER) as stand_in:
        page = (await browser.get("/away")).text
        assert EN["away.nobody"] in page and f'<option value="{second}"' in page
        typed = {"csrf_token": csrf_of(page), "delegate": second, "from": tokyo_field(NOW),
                 "until": tokyo_field(NOW - timedelta(days=1))}
        wrong = await browser.post("/away", data=typed)
        assert wrong.status_code == 422 and 'id="away-until-error"' in wrong.text
        assert html.escape(EN["away.bad_until"], quote=False) in wrong.text

        saved = await browser.post("/away", data=typed | {"until": tokyo_field(NOW + timedelta(days=7))})
        assert saved.status_code == 303
        assert f'data-delegation="{second}"' in (await browser.get("/away")).text
        assert 'data-stands-in-for="' in (await stand_in.get("/away")).text

        cancelled = await browser.post("/away/cancel", data={"csrf_token": csrf_of(page)})
        assert cancelled.status_code == 303 and EN["away.nobody"] in (await browser.get("/away")).text
    async with team.browser(APPLICANT) as applicant:
        assert (await applicant.get("/away")).status_code == 403
