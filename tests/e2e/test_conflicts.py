"""Conflicts of interest over HTTP (issue 21): a fund committee member who declared a conflict with a company neither
sees the deliberation of that company's cases nor decides their proposals; a colleague without one does both.

Each test has a database of its own (the `team` fixture), with a second fund committee member added.
"""

from __future__ import annotations

import html
from typing import Any

import pytest
from sqlalchemy import insert

from api.console.labels_ja import JA
from domain.model import FUND, Role
from infra.tables import conflicts
from infra.users import NewUser, add_user
from services.conflicts import MOST_PER_MEMBER
from tests.helpers.forms import csrf_of
from tests.helpers.people import APPLICANT, AUDITOR, COORDINATOR, FUND_MEMBER, SBIC, Person, officer
from tests.helpers.scenarios import to_investment_decision
from tests.helpers.support import PEPPER
from tests.helpers.team import Team

COLLEAGUE: Person = (Role.FUND_COMMITTEE, f"{FUND}#2")


@pytest.fixture
async def fund(team: Team) -> Team:
    assert team.sessions is not None
    _, team.tokens[COLLEAGUE] = await add_user(team.sessions, NewUser("Second member", Role.FUND_COMMITTEE, FUND),
                                               PEPPER)
    return team


async def declare(team: Team, person: Person, company: str) -> Any:
    return await team.http.post("/api/me/conflicts", json={"company": company, "reason": "board seat"},
                                headers=team.headers(person))


async def listed(team: Team, person: Person) -> list[str]:
    response = await team.http.get("/api/cases?stage=investment_decision", headers=team.headers(person))
    return [c["id"] for c in response.json()["items"]]


async def test_a_member_with_a_conflict_with_the_applicant_neither_sees_nor_decides_its_case(fund: Team) -> None:
    case = await to_investment_decision(fund)
    assert case["id"] in await listed(fund, FUND_MEMBER)
    declared = await declare(fund, FUND_MEMBER, "acme-gmbh")
    assert declared.status_code == 201 and declared.json()["company"] == "acme-gmbh"

    assert (await fund.get(case, FUND_MEMBER)).status_code == 404
    assert (await fund.http.get(f"/api/cases/{case['id']}/history", headers=fund.headers(FUND_MEMBER))).status_code \
        == 404
    assert case["id"] not in await listed(fund, FUND_MEMBER)
    assert (await fund.act(case, "approve_investment", FUND_MEMBER, note="ok")).status_code == 404
    approved = await fund.ok(case, "approve_investment", COLLEAGUE, note="no conflict here")
    assert approved["outcome"] == "alliance_formed_with_fund"
    assert (await fund.get(case, FUND_MEMBER)).status_code == 404  # closed, still not theirs to see


async def test_a_conflict_with_the_partner_sme_counts_too_and_declarations_are_on_record(fund: Team) -> None:
    case = await to_investment_decision(fund)
    partner = case["partners"][0]
    assert (await declare(fund, COLLEAGUE, partner)).status_code == 201
    assert (await fund.get(case, COLLEAGUE)).status_code == 404
    assert case["id"] not in await listed(fund, COLLEAGUE) and case["id"] in await listed(fund, FUND_MEMBER)
    assert (await fund.act(case, "decline_investment", COLLEAGUE, reason="x")).status_code == 404
    assert (await fund.get(case, FUND_MEMBER)).status_code == 200

    mine = (await fund.http.get("/api/me/conflicts", headers=fund.headers(COLLEAGUE))).json()["items"]
    assert [(c["company"], c["member"]["name"]) for c in mine] == [(partner, "Second member")]
    register = await fund.http.get("/api/conflicts", headers=fund.headers(AUDITOR))
    assert [c["company"] for c in register.json()["items"]] == [partner]
    assert (await fund.http.get("/api/conflicts", headers=fund.headers(COLLEAGUE))).status_code == 403


async def test_only_fund_committee_members_declare_and_only_a_company(fund: Team) -> None:
    for person in (officer(SBIC), COORDINATOR, APPLICANT, AUDITOR):
        assert (await declare(fund, person, "acme-gmbh")).status_code == 403
    for wrong in ("1234567890123", "Acme GmbH", "jetro"):  # a bad check digit, not a code, a body of the scheme
        response = await declare(fund, FUND_MEMBER, wrong)
        assert response.status_code == 422 and response.json()["errors"][0]["loc"] == ["body", "company"], wrong


async def test_the_console_declares_a_conflict_in_the_members_language_and_auditors_see_them(fund: Team) -> None:
    case = await to_investment_decision(fund)
    async with fund.browser(FUND_MEMBER) as member, fund.browser(AUDITOR) as auditor:
        form = (await member.get("/conflicts")).text
        assert JA["conflicts.none"] in html.unescape(form)
        wrong = await member.post("/conflicts", data={"csrf_token": csrf_of(form), "company": "Acme GmbH",
                                                      "reason": "board seat"})
        assert wrong.status_code == 422 and JA["conflicts.bad_company"] in html.unescape(wrong.text)
        assert (await member.get(f"/cases/{case['id']}")).status_code == 200
        done = await member.post("/conflicts", data={"csrf_token": csrf_of(form), "company": "acme-gmbh",
                                                     "reason": "board seat"})
        assert done.status_code == 303
        assert 'data-conflict="acme-gmbh"' in (await member.get("/conflicts")).text
        assert (await member.get(f"/cases/{case['id']}")).status_code == 404
        register = (await auditor.get("/conflicts")).text
        assert 'data-conflict="acme-gmbh"' in register and 'action="/conflicts"' not in register


async def test_a_member_declares_at_most_500_conflicts_and_is_told_so(fund: Team) -> None:
    assert fund.sessions is not None
    me = (await fund.http.get("/api/me", headers=fund.headers(FUND_MEMBER))).json()
    async with fund.sessions.begin() as session:  # 499 declared already, as a member would over the years
        await session.execute(insert(conflicts), [{"member_id": me["id"], "member_name": me["name"],
                                                   "company": f"company-{n}", "reason": "board seat"}
                                                  for n in range(MOST_PER_MEMBER - 1)])
    assert (await declare(fund, FUND_MEMBER, "acme-gmbh")).status_code == 201
    refused = await declare(fund, FUND_MEMBER, "other-gmbh")
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    (error,) = refused.json()["errors"]
    assert error["loc"] == ["body", "company"] and "at most 500 conflicts of interest" in error["msg"]
    mine = (await fund.http.get("/api/me/conflicts", headers=fund.headers(FUND_MEMBER))).json()["items"]
    assert len(mine) == MOST_PER_MEMBER and mine[0]["company"] == "acme-gmbh"
    assert (await declare(fund, COLLEAGUE, "other-gmbh")).status_code == 201, "the limit is each member's own"


async def test_the_console_says_so_in_the_members_language_when_500_are_declared(fund: Team) -> None:
    """The 501st declaration through the console is the form again with the limit under Company, not a JSON
    problem shown to a browser."""
    assert fund.sessions is not None
    me = (await fund.http.get("/api/me", headers=fund.headers(FUND_MEMBER))).json()
    async with fund.sessions.begin() as session:
        await session.execute(insert(conflicts), [{"member_id": me["id"], "member_name": me["name"],
                                                   "company": f"company-{n}", "reason": "board seat"}
                                                  for n in range(MOST_PER_MEMBER)])
    async with fund.browser(FUND_MEMBER) as member:
        form = (await member.get("/conflicts")).text
        refused = await member.post("/conflicts", data={"csrf_token": csrf_of(form), "company": "acme-gmbh",
                                                        "reason": "board seat"})
    assert refused.status_code == 422 and refused.headers["content-type"].startswith("text/html"), refused.text[:200]
    assert JA["conflicts.too_many"].format(most=MOST_PER_MEMBER) in html.unescape(refused.text)
    assert 'value="acme-gmbh"' in refused.text, "what was typed is kept"
