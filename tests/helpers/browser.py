"""The console in a real browser: Debian's Chromium and CJK fonts (installed with apt when missing, never a
downloaded browser), axe-core from the npm registry (pinned, kept in a cache folder), and a person at a window."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Browser, BrowserContext, Locator, Page, async_playwright

from api.console.i18n import Translator
from app.serving import QuietServer
from infra.startup import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
AXE_VERSION = "4.14.1"
AXE_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "case-desk" / f"axe-core-{AXE_VERSION}"
SERIOUS = ("serious", "critical")


def _apt_install(package: str, present: Callable[[], bool]) -> None:
    """Debian's `package`, installed with apt (as root) unless `present()` already says it is there."""
    if present():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.fail(f"Debian's {package} is missing and cannot be installed here (needs root and apt-get): "
                    f"`apt-get install -y {package}`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", package]
    for command in (install, ["apt-get", "update"], install):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200, check=False)
        if command[1] == "install" and done.returncode == 0 and present():
            return
    pytest.fail(f"`apt-get install -y {package}` failed:\n{(done.stderr or done.stdout)[-2000:]}")


def ensure_chromium() -> None:
    _apt_install("chromium", CHROMIUM.exists)


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright (the `browser` fixture: one per test process)."""
    ensure_chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


def japanese_fonts() -> list[str]:
    """The families of the installed fonts that cover Japanese (fontconfig's answer)."""
    listed = subprocess.run(["fc-list", ":lang=ja", "family"], capture_output=True, text=True, check=False)
    return [line for line in listed.stdout.splitlines() if line.strip()]


def ensure_japanese_fonts() -> None:
    _apt_install("fonts-noto-cjk", lambda: shutil.which("fc-list") is not None and bool(japanese_fonts()))


def axe_script() -> Path:
    """axe-core's `axe.min.js`, installed once from the npm registry (version `AXE_VERSION`) into a cache folder."""
    script = AXE_CACHE / "node_modules" / "axe-core" / "axe.min.js"
    if script.exists():
        return script
    if shutil.which("npm") is None:
        pytest.fail("npm is missing: the accessibility tests need it once to install axe-core")
    AXE_CACHE.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["npm", "install", "--prefix", str(AXE_CACHE), "--no-audit", "--no-fund", "--no-save",
                           f"axe-core@{AXE_VERSION}"], capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0 or not script.exists():
        pytest.fail(f"`npm install axe-core@{AXE_VERSION}` failed:\n{(done.stderr or done.stdout)[-2000:]}")
    return script


async def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it stands, one line each (rule, impact, where)."""
    await page.add_script_tag(path=str(axe_script()))
    found: list[dict[str, Any]] = await page.evaluate(
        """async impacts => (await axe.run(document, {resultTypes: ["violations"]})).violations
               .filter(v => impacts.includes(v.impact))
               .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(" "))}))""",
        list(SERIOUS))
    return [f"{page.url}: {v['id']} ({v['impact']}) {v['help']} at {', '.join(v['nodes'][:5])}" for v in found]


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """The app on a free port, served by uvicorn in this event loop: its address."""
    port = free_port()
    server = QuietServer(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()  # it failed to start: say why
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


class Window:
    """One person at their own browser window (own cookies), speaking the console's language of the moment."""

    def __init__(self, context: BrowserContext, page: Page, shots: Path) -> None:
        self.context, self.page, self.shots = context, page, shots

    async def t(self) -> Translator:
        return Translator(await self.page.get_attribute("html", "lang") or "en")

    async def shot(self, name: str) -> None:
        await self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    async def submit(self, action: str) -> None:
        """Press the action form's button and wait for the page that answers."""
        form = self.page.locator(f'form[data-action="{action}"]')
        async with self.page.expect_navigation():
            await form.get_by_role("button").click()

    async def propose(self, amount: str, rationale: str) -> Locator:
        """Fill in the proposal form (a co-investment of `amount` yen) and send it; the form, as the answer shows it."""
        t = await self.t()
        form = self.page.locator('form[data-action="propose_investment"]')
        await form.get_by_label(t.code("field", "route")).select_option("co_investment")
        await form.get_by_label(t.code("field", "amount_jpy")).fill(amount)
        await form.get_by_label(t.code("field", "rationale")).fill(rationale)
        await self.submit("propose_investment")
        return form

    async def events(self) -> list[str]:
        return [str(e) for e in await self.page.locator("ol.timeline > li").evaluate_all(
            "items => items.map(i => i.dataset.event)")]


async def sign_in(browser: Browser, site: str, token: str, shots: Path, *, bypass_csp: bool = False) -> Window:
    """Sign in through the sign-in page, by label, as a person would (`bypass_csp`: so axe-core can be injected)."""
    context = await browser.new_context(base_url=site, viewport={"width": 1280, "height": 900}, bypass_csp=bypass_csp)
    page = await context.new_page()
    await page.goto("/signin")
    t = Translator(await page.get_attribute("html", "lang") or "en")
    await page.get_by_label(t("signin.token")).fill(token)
    async with page.expect_navigation():
        await page.get_by_role("button", name=t("signin.submit")).click()
    return Window(context, page, shots)
