"""The console's quality in a real browser (issue 21): axe-core on every page in English and Japanese finds no
serious or critical violation; Japanese pages render with a Japanese font (Debian's fonts-noto-cjk); a bad form on a
Japanese page is answered in Japanese. One app on a database of the module's own, one browser for the process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect
from temporalio.testing import WorkflowEnvironment

from api.console.i18n import Translator
from domain.calendar import TOKYO
from infra.settings import Settings
from tests.helpers.browser import Window, ensure_japanese_fonts, japanese_fonts, serious_violations, served, sign_in
from tests.helpers.mail import MailSink
from tests.helpers.people import ADMIN, APPLICANT, AUDITOR, COORDINATOR, FUND_MEMBER, SBIC, Person, manager, officer
from tests.helpers.scenarios import to_fund_consideration, to_investment_decision, to_matching
from tests.helpers.team import SECOND_OFFICER, Team, team_desk

pytestmark = pytest.mark.long  # its three tests share one app (`site`), so they are queued together


@dataclass
class Site:
    team: Team
    address: str


@pytest.fixture(scope="module")
async def site(dev_server: WorkflowEnvironment, settings: Settings, module_database: str,
               mail_sink: MailSink) -> AsyncIterator[Site]:
    """The real app, served by uvicorn, with a worker, on the module's database."""
    async with team_desk(dev_server.client, settings, module_database) as team:
        assert team.app is not None
        async with served(team.app) as address:
            yield Site(team, address)


async def person_id(team: Team, person: Person) -> str:
    return str((await team.http.get("/api/me", headers=team.headers(person))).json()["id"])


async def visit(window: Window, path: str, found: list[str]) -> None:
    response = await window.page.goto(path)
    assert response is not None and response.status < 400, f"{path}: {response and response.status}"
    found += await serious_violations(window.page)


async def test_no_page_has_a_serious_or_critical_violation_in_english_or_japanese(
        site: Site, browser: Browser, tmp_path: Path) -> None:
    team = site.team
    deciding = await to_investment_decision(team)
    matching = await to_matching(team)
    job = await team.http.post("/api/work/reassign", headers=team.headers(manager(SBIC)), json={
        "from": await person_id(team, officer(SBIC)), "to": await person_id(team, SECOND_OFFICER),
        "filter": {"stage": "fund_consideration"}})
    assert job.status_code == 202, job.text
    pages: dict[Person, list[str]] = {
        APPLICANT: ["/work", "/cases", "/cases/new", f"/cases/{deciding['id']}"],
        officer(SBIC): ["/work", f"/cases/{matching['id']}", "/away"],
        manager(SBIC): ["/late", "/reassign", job.headers["location"].replace("/api/work", ""), "/reports",
                        "/dashboard"],
        COORDINATOR: ["/reassign?org=sbic", f"/cases/{deciding['id']}"],
        FUND_MEMBER: ["/conflicts", f"/cases/{deciding['id']}"],
        AUDITOR: ["/audit", "/audit/access", f"/cases/{deciding['id']}/audit", "/conflicts"],
        ADMIN: ["/outbox", "/mail", "/incidents"],
    }
    found: list[str] = []
    anonymous = await browser.new_context(base_url=site.address, bypass_csp=True)
    signin = Window(anonymous, await anonymous.new_page(), tmp_path)
    for language in ("en", "ja"):
        await visit(signin, f"/lang/{language}?next=/signin", found)
    for person, paths in pages.items():
        window = await sign_in(browser, site.address, team.tokens[person], tmp_path, bypass_csp=True)
        for language in ("en", "ja"):
            await window.page.goto(f"/lang/{language}")
            for path in paths:
                await visit(window, path, found)
        await window.context.close()
    assert found == [], "\n".join(found)


async def test_japanese_pages_render_in_a_japanese_font_and_answer_bad_forms_in_japanese(
        site: Site, browser: Browser, tmp_path: Path) -> None:
    ensure_japanese_fonts()
    case = await to_fund_consideration(site.team)
    sbic = await sign_in(browser, site.address, site.team.tokens[officer(SBIC)], tmp_path, bypass_csp=True)
    await sbic.page.goto(f"/lang/ja?next=/cases/{case['id']}")
    t = await sbic.t()
    assert t.language == "ja"

    heading = sbic.page.locator("section h2").first
    await expect(heading).to_be_visible()
    fonts = await rendered_fonts(sbic, "section h2")
    assert fonts and set(fonts) <= set(family for line in japanese_fonts() for family in line.split(",")), fonts
    await sbic.shot("case-page-ja")
    assert (tmp_path / "case-page-ja.png").stat().st_size > 10_000

    await sbic.propose("0", "EUの販路")
    amount_error = sbic.page.locator("#act-propose_investment-amount_jpy-error")
    await expect(amount_error).to_have_text("1から1000000000000までの値にしてください")
    assert await serious_violations(sbic.page) == []  # the page with its errors too
    await sbic.context.close()


async def rendered_fonts(window: Window, selector: str) -> list[str]:
    """The fonts Chromium drew the first `selector` element's text with (DevTools' platform fonts)."""
    cdp = await window.context.new_cdp_session(window.page)
    await cdp.send("DOM.enable")
    await cdp.send("CSS.enable")
    root: dict[str, Any] = await cdp.send("DOM.getDocument")
    node: dict[str, Any] = await cdp.send("DOM.querySelector", {"nodeId": root["root"]["nodeId"], "selector": selector})
    used: dict[str, Any] = await cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})
    return [str(font["familyName"]) for font in used["fonts"]]


async def test_team_work_by_clicking_claim_delegate_reassign_declare_and_report(
        site: Site, browser: Browser, tmp_path: Path) -> None:
    team, t = site.team, Translator("en")
    officer_id, second_id = await person_id(team, officer(SBIC)), await person_id(team, SECOND_OFFICER)

    async def at(person: Person, path: str) -> Window:
        window = await sign_in(browser, site.address, team.tokens[person], tmp_path)
        await window.page.goto(f"/lang/en?next={path}")
        return window

    # Claiming: the second officer claims a case waiting on SBIC from its page.
    waiting = await team.file(APPLICANT)
    await team.ok(waiting, "relay", COORDINATOR, offices=[SBIC])
    second = await at(SECOND_OFFICER, f"/cases/{waiting['id']}")
    await second.submit("claim")
    await expect(second.page.locator(f'dt:text-is("{t("case.assignee")}") + dd')).to_have_text("Second officer")

    # Delegation: SBIC's officer is away for a week; the second officer stands in.
    away = await at(officer(SBIC), "/away")
    now = datetime.now(TOKYO)
    await away.page.get_by_label(t("away.delegate"), exact=True).select_option(second_id)
    await away.page.get_by_label(t("away.from"), exact=True).fill(f"{now - timedelta(minutes=5):%Y-%m-%dT%H:%M}")
    await away.page.get_by_label(t("away.until"), exact=True).fill(f"{now + timedelta(days=7):%Y-%m-%dT%H:%M}")
    async with away.page.expect_navigation():
        await away.page.get_by_role("button", name=t("away.save")).click()
    await expect(away.page.locator(f'[data-delegation="{second_id}"]')).to_be_visible()
    await second.page.goto("/away")
    await expect(second.page.locator(f'[data-stands-in-for="{officer_id}"]')).to_be_visible()

    # Bulk reassignment: SBIC's manager moves the officer's open cases to the second officer and watches it end.
    await to_matching(team)
    boss = await at(manager(SBIC), "/reassign")
    await boss.page.get_by_label(t("reassign.from"), exact=True).select_option(officer_id)
    await boss.page.get_by_label(t("reassign.to"), exact=True).select_option(second_id)
    async with boss.page.expect_navigation():
        await boss.page.get_by_role("button", name=t("reassign.start")).click()
    progress = boss.page.locator("#reassign-progress")
    for _ in range(120):
        if await boss.page.get_by_role("link", name=t("reassign.refresh")).count() == 0:
            break
        await asyncio.sleep(0.5)
        await boss.page.reload()
    assert await progress.get_attribute("data-done") == await progress.get_attribute("data-total") != "0"
    await expect(boss.page.locator('li[data-outcome="reassigned"]')).to_be_visible()

    # Conflicts: a Fund member who declares a conflict with the applicant can no longer decide its proposal.
    deciding = await to_investment_decision(team)
    fund = await at(FUND_MEMBER, f"/cases/{deciding['id']}")
    await expect(fund.page.locator('form[data-action="approve_investment"]')).to_have_count(1)
    await fund.page.goto("/conflicts")
    await fund.page.get_by_label(t("conflicts.company"), exact=True).fill(deciding["applicant_org"])
    await fund.page.get_by_label(t("conflicts.reason"), exact=True).fill("A former employer")
    async with fund.page.expect_navigation():
        await fund.page.get_by_role("button", name=t("conflicts.submit")).click()
    await expect(fund.page.locator(f'tr[data-conflict="{deciding["applicant_org"]}"]')).to_be_visible()
    await fund.page.goto(f"/cases/{deciding['id']}")
    await expect(fund.page.locator('form[data-action="approve_investment"]')).to_have_count(0)

    # Reports: the coordinator reads this year's figures as charts and tables.
    jetro = await at(COORDINATOR, "/reports")
    await expect(jetro.page.locator('svg[role="img"]')).to_have_count(3)
    await expect(jetro.page.locator('[data-stage-row^="sbic|office_review|"]').first).to_be_visible()
    for window in (second, away, boss, fund, jetro):
        await window.context.close()
