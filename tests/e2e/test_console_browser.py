"""The console in a real browser: Debian's Chromium (installed with apt when missing, never a downloaded
browser), driven by Playwright against the real app served by uvicorn. One case goes from filing to fund
approval by clicking, each demo person signing in in turn; what each sees is asserted, and screenshots of the
main pages are saved under `test-artifacts/console/`."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.app import create_app
from infra.settings import Settings
from infra.sme_registry import seed_demo_smes
from services.context import Services
from tests.helpers.browser import Window, served, sign_in
from tests.helpers.desk import Desk
from tests.helpers.people import APPLICANT, AUDITOR, COORDINATOR, FUND_MEMBER, SBIC, Person, officer
from tests.helpers.scenarios import to_investment_decision

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"


@pytest.fixture
async def site(temporal: Client, settings: Settings, engine: AsyncEngine,
               sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[str]:
    """The real app on a free port, served by uvicorn in this event loop, wired like the `http` fixture."""
    await seed_demo_smes(engine)
    async with served(create_app(Services(settings, engine, sessions, temporal))) as address:
        yield address


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


async def open_case(person: Window, reference: str) -> None:
    """From "my work", found by its reference, follow the case's link in the list of what waits on this person."""
    await person.page.goto(f"/work?q={reference}")
    waiting = person.page.locator("section", has=person.page.locator("#waiting-heading"))
    async with person.page.expect_navigation():
        await waiting.get_by_role("link", name=reference).click()


@pytest.mark.long
async def test_a_case_from_filing_to_fund_approval_by_clicking(
    browser: Browser, site: str, tokens: dict[Person, str], artifacts: Path
) -> None:
    # The applicant files the sample request.
    applicant = await sign_in(browser, site, tokens[APPLICANT], artifacts)
    page = applicant.page
    t = await applicant.t()
    await page.get_by_role("link", name=t("nav.new_case")).click()
    await page.get_by_role("link", name=t("new.sample")).click()
    await expect(page.get_by_label(t("field.company_name"))).to_have_value("Acme GmbH")
    await applicant.shot("01-applicant-files-a-request")
    async with page.expect_navigation():
        await page.get_by_role("button", name=t("new.submit")).click()
    await expect(page.get_by_role("status")).to_contain_text("GA-")
    reference = (await page.locator("h1").inner_text()).split(" — ")[0]
    assert re.fullmatch(r"GA-\d{4}-\w+", reference), reference
    assert await applicant.events() == ["filed"]
    assert await page.locator("form[data-action]").evaluate_all("f => f.map(x => x.dataset.action)") == [
        "withdraw", "update_contact"]
    await applicant.shot("02-applicant-case-page")

    # JETRO's coordinator (who reads Japanese) relays it to two offices.
    coordinator = await sign_in(browser, site, tokens[COORDINATOR], artifacts)
    t = await coordinator.t()
    assert t.language == "ja"
    await expect(coordinator.page.locator("h1")).to_have_text(t("work.title"))
    await coordinator.shot("03-coordinator-my-work-ja")
    await open_case(coordinator, reference)
    relay = coordinator.page.locator('form[data-action="relay"]')
    await relay.get_by_label(t.code("org", "sbic")).check()
    await relay.get_by_label(t.code("org", "sme_support_japan")).check()
    await relay.get_by_label(t.code("field", "note")).fill("strong technology fit")
    await coordinator.shot("04-coordinator-relays")
    await coordinator.submit("relay")
    await expect(coordinator.page.get_by_role("status")).to_contain_text(t.code("action", "relay"))
    assert await coordinator.events() == ["filed", "relay"]

    # SBIC's officer accepts, runs matching and sees the candidates' reasons; shortlists, records the answer.
    sbic = await sign_in(browser, site, tokens[officer(SBIC)], artifacts)
    t = await sbic.t()
    await open_case(sbic, reference)
    await sbic.submit("accept_case")
    run = sbic.page.locator('form[data-action="run_matching"]')
    await run.get_by_label(t.code("field", "limit")).fill("5")
    await sbic.submit("run_matching")
    candidates = sbic.page.locator("table.candidates")
    await expect(candidates.locator("td.reason").first).to_contain_text("match 2 of 2")
    await expect(candidates.get_by_role("columnheader", name=t("col.score"))).to_be_visible()
    await sbic.shot("05-officer-candidates-with-reasons")
    await sbic.page.locator('form[data-action="shortlist"]').get_by_label("Aichi Precision Works").check()
    await sbic.submit("shortlist")
    respond = sbic.page.locator('form[data-action="record_response"]')
    await respond.get_by_label(t.code("field", "sme_id"), exact=True).select_option(
        label="Aichi Precision Works (1010001000006)")
    await respond.get_by_label(t.code("field", "interested")).check()
    await respond.get_by_label(t.code("field", "note")).fill("keen to meet")
    await sbic.submit("record_response")
    await sbic.page.locator('form[data-action="select_partner"]').get_by_label("Aichi Precision Works").check()
    await sbic.submit("select_partner")

    # A wrong amount: the error is shown beside the proposal form, with what was typed kept.
    propose = await sbic.propose("0", "EU channels for the SME's sensor line")
    amount_error = sbic.page.locator("#act-propose_investment-amount_jpy-error")
    await expect(amount_error).to_contain_text("must be from 1 to 1000000000000")
    await expect(propose.get_by_label(t.code("field", "rationale"))).to_have_value(
        "EU channels for the SME's sensor line")
    await expect(sbic.page.get_by_role("alert").first).to_be_visible()
    await sbic.shot("06-officer-error-beside-the-form")
    await propose.get_by_label(t.code("field", "amount_jpy")).fill("200000000")
    await sbic.submit("propose_investment")
    await expect(sbic.page.locator('[data-field="stage"]')).to_have_text(t.code("stage", "investment_decision"))
    await expect(sbic.page.locator('form[data-action="approve_investment"]')).to_have_count(0)  # four-eyes
    assert await sbic.events() == ["filed", "relay", "accept_case", "run_matching", "shortlist", "record_response",
                                   "select_partner", "propose_investment"]
    await sbic.shot("07-officer-proposed")

    # The applicant sees its partner by name, but no scores, reasons or internal steps.
    await applicant.page.reload()
    t = await applicant.t()
    await expect(applicant.page.locator("table.candidates")).to_contain_text("Aichi Precision Works")
    await expect(applicant.page.locator("table.candidates th", has_text=t("col.score"))).to_have_count(0)
    await expect(applicant.page.locator("td.reason")).to_have_count(0)
    assert await applicant.events() == ["filed", "relay", "accept_case", "select_partner"]
    await applicant.shot("08-applicant-sees-no-scores")

    # The Fund committee member switches to English and approves.
    fund = await sign_in(browser, site, tokens[FUND_MEMBER], artifacts)
    async with fund.page.expect_navigation():
        await fund.page.get_by_role("link", name="English").click()
    t = await fund.t()
    assert t.language == "en"
    await open_case(fund, reference)
    await expect(fund.page.locator("form[data-action]")).to_have_count(4)  # approve, decline, return, add a note
    await fund.page.locator('form[data-action="approve_investment"]').get_by_label(t.code("field", "note")).fill(
        "approved")
    await fund.submit("approve_investment")
    await expect(fund.page.locator('[data-field="outcome"]')).to_have_text(
        t.code("outcome", "alliance_formed_with_fund"))
    await expect(fund.page.locator("form[data-action]")).to_have_count(0)
    await fund.shot("09-fund-approved")

    # The auditor sees the whole history, a verified chain and export links; and the dashboard.
    auditor = await sign_in(browser, site, tokens[AUDITOR], artifacts)
    t = await auditor.t()
    await auditor.page.get_by_role("row", name=reference).get_by_role("link", name=reference).click()
    await expect(auditor.page.locator('[data-chain="valid"]')).to_contain_text("9")
    await expect(auditor.page.get_by_role("link", name="CSV")).to_be_visible()
    await auditor.shot("10-auditor-chain-verified")
    await auditor.page.get_by_role("link", name=t("nav.dashboard")).click()
    await expect(auditor.page.locator("svg.chart")).to_have_count(3)
    await auditor.shot("11-dashboard")
    for person in (applicant, coordinator, sbic, fund, auditor):
        await person.context.close()


async def test_no_form_for_an_action_the_person_may_not_take(
    browser: Browser, site: str, desk: Desk, tokens: dict[Person, str], artifacts: Path
) -> None:
    case = await to_investment_decision(desk)
    await desk.ok(case, "return_proposal", FUND_MEMBER, comments="lower the amount")  # back before a proposal
    fund = await sign_in(browser, site, tokens[FUND_MEMBER], artifacts)
    await fund.page.goto(f"/cases/{case['id']}")
    actions = fund.page.locator("form[data-action]")
    assert await actions.evaluate_all("f => f.map(x => x.dataset.action)") == ["add_note"]
    await expect(fund.page.locator('form[data-action="approve_investment"]')).to_have_count(0)
    auditor = await sign_in(browser, site, tokens[AUDITOR], artifacts)
    await auditor.page.goto(f"/cases/{case['id']}")
    await expect(auditor.page.locator("form[data-action]")).to_have_count(0)
    await expect(auditor.page.locator('form[method="post"]')).to_have_count(1)  # signing out, nothing else
    await auditor.shot("12-auditor-case-without-forms")
    # Keyboard only: the skip link is the first stop and lands on the main content.
    await auditor.page.keyboard.press("Tab")
    await expect(auditor.page.locator("a.skip")).to_be_focused()
    await auditor.page.keyboard.press("Enter")
    await expect(auditor.page.locator("main")).to_be_focused()
    for person in (fund, auditor):
        await person.context.close()
