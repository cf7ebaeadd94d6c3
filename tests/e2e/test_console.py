"""The web console over ASGI: sign-in and its cookie, CSRF, one form per allowed action and no other, errors
beside the form that caused them with what was typed kept, languages, oversight pages; and its pure parts
(generic forms, SVG charts, labels) without I/O."""

from __future__ import annotations

import contextlib
import html
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.datastructures import FormData
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.console.charts import bar_chart
from api.console.forms import form_fields, parse_form
from api.console.i18n import Translator
from api.console.labels_en import EN
from api.console.labels_ja import JA
from domain.filing import FilingRequest
from domain.model import Action, CaseState, Office
from domain.payloads import ACTION_PAYLOADS, parse_payload
from domain.transitions import new_case
from infra.export_check import check_export
from infra.settings import DEV_PEPPER, Settings
from infra.tables import notifications
from infra.users import DEMO_USERS
from services.context import Services
from tests.helpers.desk import Desk
from tests.helpers.forms import csrf_of
from tests.helpers.people import (
    ADMIN,
    APPLICANT,
    APPLICANT_ACTOR,
    AUDITOR,
    COORDINATOR,
    FUND_MEMBER,
    SBIC,
    SJ,
    Person,
    manager,
    officer,
)
from tests.helpers.scenarios import to_fund_consideration, to_matching
from tests.helpers.support import filing

ACTION_FORM = re.compile(r'<form method="post" action="/cases/[^"]+/actions/([a-z_]+)" data-action="\1"')


def action_forms(page: str) -> set[str]:
    """The actions the page offers a form for."""
    return set(ACTION_FORM.findall(page))


def element(page: str, element_id: str) -> str:
    """The HTML of the element with this id, up to its closing tag."""
    opening = page.rindex("<", 0, page.index(f'id="{element_id}"'))
    tag = re.match(r"<(\w+)", page[opening:])
    assert tag
    depth = 0
    for match in re.finditer(rf"<(/?){tag.group(1)}\b", page[opening:]):
        depth += -1 if match.group(1) else 1
        if depth == 0:
            end = opening + match.end()
            return page[opening:page.index(">", end) + 1]
    raise AssertionError(f"#{element_id} is not closed")


def text(fragment: str) -> str:
    """The visible text of an HTML fragment, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def as_form(fields: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Form fields in order, repeated names kept (checkboxes), as httpx takes them."""
    form: dict[str, list[str]] = {}
    for name, value in fields:
        form.setdefault(name, []).append(value)
    return form


@dataclass
class Console:
    """One browser per person (each its own cookie jar), all on the same app."""

    app: FastAPI
    tokens: dict[Person, str]
    stack: contextlib.AsyncExitStack
    browsers: dict[Person, httpx.AsyncClient] = field(default_factory=dict)

    async def fresh(self) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://desk")
        return await self.stack.enter_async_context(client)

    async def sign_in(self, person: Person) -> httpx.Response:
        browser = await self.fresh()
        form = await browser.get("/signin")
        response = await browser.post("/signin", data={"token": self.tokens[person], "csrf_token": csrf_of(form.text)})
        assert response.status_code == 303, response.text
        self.browsers[person] = browser
        return response

    async def as_(self, person: Person) -> httpx.AsyncClient:
        if person not in self.browsers:
            await self.sign_in(person)
        return self.browsers[person]

    async def page(self, person: Person, path: str) -> str:
        response = await (await self.as_(person)).get(path)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:300]}"
        return response.text

    async def submit(self, person: Person, case_id: str, action: str, fields: list[tuple[str, str]],
                     *, csrf: str | None = None) -> httpx.Response:
        """Post an action's form as the case page offers it (with the page's CSRF token unless given)."""
        browser = await self.as_(person)
        token = csrf_of(await self.page(person, f"/cases/{case_id}")) if csrf is None else csrf
        return await browser.post(f"/cases/{case_id}/actions/{action}",
                                  data=as_form(fields + ([("csrf_token", token)] if token else [])))


@pytest.fixture
async def console(desk: Desk, temporal: Client, settings: Settings, engine: AsyncEngine,
                  sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Console]:
    app = create_app(Services(settings, engine, sessions, temporal))
    async with contextlib.AsyncExitStack() as stack:
        yield Console(app, desk.tokens, stack)


async def allowed(desk: Desk, case_id: str, person: Person) -> set[str]:
    return set((await desk.get(case_id, person)).json()["allowed_actions"])


# Sign-in and sessions ---------------------------------------------------------------------------------------


async def test_sign_in_sets_an_httponly_strict_session_cookie(console: Console) -> None:
    response = await console.sign_in(COORDINATOR)
    assert response.headers["location"] == "/work"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("casedesk_session="))
    assert cookie.startswith(f"casedesk_session={console.tokens[COORDINATOR]};")
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert "secure" not in cookie.lower()  # plain http here; over https the cookie is Secure
    work = await (await console.as_(COORDINATOR)).get("/work")
    assert work.status_code == 200 and "Kenji Sato" in work.text
    assert "frame-ancestors 'none'" in work.headers["content-security-policy"]


async def test_over_https_the_session_cookie_is_secure(console: Console) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=console.app), base_url="https://desk") as browser:
        form = await browser.get("/signin")
        response = await browser.post("/signin", data={"token": console.tokens[AUDITOR],
                                                       "csrf_token": csrf_of(form.text)})
    assert response.status_code == 303 and response.headers["location"] == "/audit"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("casedesk_session="))
    assert "; secure" in cookie.lower()


async def test_demo_users_are_offered_only_with_the_development_pepper(
    temporal: Client, settings: Settings, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Their tokens derive from the pepper: with the development one (public) they are no secret."""
    for pepper, offered in [(DEV_PEPPER, True), (settings.token_pepper.get_secret_value(), False)]:
        app = create_app(Services(settings.model_copy(update={"token_pepper": SecretStr(pepper)}), engine, sessions,
                                  temporal))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk") as browser:
            page = (await browser.get("/signin")).text
        assert (page.count('name="token" value="demo-') == len(DEMO_USERS)) is offered
        assert ('name="token" value="' in page) is offered


async def test_a_wrong_token_shows_an_error_and_starts_no_session(console: Console) -> None:
    browser = await console.fresh()
    form = await browser.get("/signin")
    response = await browser.post("/signin", data={"token": "not-a-token", "csrf_token": csrf_of(form.text)})
    assert response.status_code == 401
    assert EN["signin.bad_token"] in response.text and 'aria-invalid="true"' in response.text
    assert not any(c.startswith("casedesk_session=") for c in response.headers.get_list("set-cookie"))
    assert (await browser.get("/work")).status_code == 303


async def test_pages_need_a_session_and_come_back_after_sign_in(console: Console, desk: Desk) -> None:
    case = await desk.file(APPLICANT)
    browser = await console.fresh()
    for path in ["/work", "/cases", f"/cases/{case['id']}", "/late", "/audit", "/dashboard", "/cases/new"]:
        response = await browser.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/signin?next="), path
    wanted = (await browser.get(f"/cases/{case['id']}")).headers["location"]
    form = await browser.get(wanted)
    assert f'name="next" value="/cases/{case["id"]}"' in form.text
    signed = await browser.post("/signin", data={"token": console.tokens[APPLICANT], "csrf_token": csrf_of(form.text),
                                                 "next": f"/cases/{case['id']}"})
    assert signed.headers["location"] == f"/cases/{case['id']}"
    out = await browser.post("/signout", data={"csrf_token": csrf_of((await browser.get("/work")).text)})
    assert out.status_code == 303 and (await browser.get("/work")).status_code == 303


async def test_sign_in_and_sign_out_need_their_csrf_tokens(console: Console) -> None:
    browser = await console.fresh()
    await browser.get("/signin")
    refused = await browser.post("/signin", data={"token": console.tokens[COORDINATOR]})
    assert refused.status_code == 403
    assert not any(c.startswith("casedesk_session=") for c in refused.headers.get_list("set-cookie"))
    officer_browser = await console.as_(officer(SBIC))
    assert (await officer_browser.post("/signout", data={"csrf_token": "forged"})).status_code == 403
    assert (await officer_browser.get("/work")).status_code == 200  # still signed in


# Forms: exactly the allowed actions -------------------------------------------------------------------------


async def test_the_case_page_has_a_form_for_each_allowed_action_and_no_other(console: Console, desk: Desk) -> None:
    case = await desk.file(APPLICANT)
    await desk.ok(case, "relay", COORDINATOR, offices=[SJ, SBIC])
    everyone = [APPLICANT, COORDINATOR, officer(SJ), officer(SBIC), manager(SBIC), manager(Office.SHOKO_CHUKIN_BANK),
                FUND_MEMBER, AUDITOR]
    for stage_case in (case, await to_fund_consideration(desk)):
        for person in everyone:
            response = await (await console.as_(person)).get(f"/cases/{stage_case['id']}")
            if (await desk.get(stage_case, person)).status_code == 404:
                assert response.status_code == 404, person
                continue
            assert response.status_code == 200, person
            assert action_forms(response.text) == await allowed(desk, stage_case["id"], person), person
    auditor_page = await console.page(AUDITOR, f"/cases/{case['id']}")
    assert action_forms(auditor_page) == set() and "/actions/" not in auditor_page
    assert JA["case.no_actions"] in auditor_page  # Aiko Mori reads Japanese


async def test_an_action_not_offered_is_refused_and_changes_nothing(console: Console, desk: Desk) -> None:
    case = await to_matching(desk)
    assert (await (await console.as_(FUND_MEMBER)).get(f"/cases/{case['id']}")).status_code == 404  # no proposal
    page = await console.page(officer(SJ), f"/cases/{case['id']}")  # SJ's review closed when SBIC took the lead
    assert action_forms(page) == {"add_note"}
    response = await console.submit(officer(SJ), case["id"], "run_matching", [("limit", "5")])
    assert response.status_code == 403
    assert "only the lead office (sbic) may run_matching" in text(response.text)
    assert action_forms(response.text) == {"add_note"}  # still no form for it
    assert [e["type"] for e in await desk.history(case, COORDINATOR)][-1] == "accept_case"


async def test_an_action_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing(
    console: Console, desk: Desk
) -> None:
    case = await desk.file(APPLICANT)
    fields = [("offices", "sbic"), ("note", "forged")]
    for token in ["", "0" * 64, csrf_of(await console.page(APPLICANT, "/work"))]:  # none, wrong, another person's
        response = await console.submit(COORDINATOR, case["id"], "relay", fields, csrf=token)
        assert response.status_code == 403, token
        assert EN["csrf.refused"] in response.text
    assert [e["type"] for e in await desk.history(case, COORDINATOR)] == ["filed"]


async def test_actions_from_the_console_take_the_case_forward(console: Console, desk: Desk) -> None:
    case = await desk.file(APPLICANT)
    relayed = await console.submit(COORDINATOR, case["id"], "relay",
                                   [("offices", "sbic"), ("offices", "sme_support_japan"), ("note", "tech fit")])
    assert relayed.status_code == 303 and relayed.headers["location"] == f"/cases/{case['id']}?done=relay"
    shown = await console.page(COORDINATOR, relayed.headers["location"])
    assert 'role="status"' in shown and 'data-event="relay"' in shown
    await console.submit(officer(SBIC), case["id"], "accept_case", [("note", "")])
    matched = await console.submit(officer(SBIC), case["id"], "run_matching", [("limit", "5"), ("industries", "")])
    assert matched.status_code == 303
    state = (await desk.get(case, COORDINATOR)).json()
    assert state["stage"] == "matching" and 0 < len(state["candidates"]) <= 5
    history = await desk.history(case, COORDINATOR)
    assert history[1]["payload"]["offices"] == ["sbic", "sme_support_japan"]
    assert history[-1]["payload"]["limit"] == 5 and history[-1]["payload"]["overseas_interest"] is False


async def test_a_form_sent_from_a_stale_page_after_the_case_closed_is_a_conflict(console: Console,
                                                                                 desk: Desk) -> None:
    case = await desk.file(APPLICANT)
    stale = await console.page(COORDINATOR, f"/cases/{case['id']}")
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', stale)
    assert key and "add_note" in action_forms(stale)
    await desk.ok(case, "reject", COORDINATOR, reason="outside the scheme")
    response = await console.submit(COORDINATOR, case["id"], "add_note",
                                    [("text", "too late"), ("idempotency_key", key.group(1))], csrf=csrf_of(stale))
    assert response.status_code == 409 and "the case is closed" in text(element(response.text, "main"))
    assert action_forms(response.text) == set()


async def test_a_form_sent_twice_is_applied_once_and_a_bad_key_is_refused_not_a_500(console: Console,
                                                                                     desk: Desk) -> None:
    case = await desk.file(APPLICANT)
    page = await console.page(COORDINATOR, f"/cases/{case['id']}")
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', page)
    assert key
    for _ in range(2):  # a double click: the second is the same request, answered, not applied again
        sent = await console.submit(COORDINATOR, case["id"], "add_note",
                                    [("text", "call Monday"), ("idempotency_key", key.group(1))], csrf=csrf_of(page))
        assert sent.status_code == 303, sent.text
    assert [e["type"] for e in await desk.history(case, COORDINATOR)].count("add_note") == 1
    for bad in ("k" * 300, "a\x00b"):
        refused = await console.submit(COORDINATOR, case["id"], "add_note",
                                       [("text", "again"), ("idempotency_key", bad)], csrf=csrf_of(page))
        assert refused.status_code == 422, refused.text[:300]
    assert [e["type"] for e in await desk.history(case, COORDINATOR)].count("add_note") == 1


# Errors beside their form -----------------------------------------------------------------------------------


async def test_a_bad_payload_is_shown_beside_its_form_with_what_was_typed(console: Console, desk: Desk) -> None:
    case = await to_fund_consideration(desk)
    typed = [("route", "co_investment"), ("amount_jpy", "-5"), ("rationale", "EU channels <b>& more</b>")]
    response = await console.submit(officer(SBIC), case["id"], "propose_investment", typed)
    assert response.status_code == 422
    form = element(response.text, "act-propose_investment")
    amount_error = element(form, "act-propose_investment-amount_jpy-error")
    assert "from 1 to 1000000000000" in text(amount_error)
    assert 'value="-5"' in form and 'aria-invalid="true"' in form
    assert "EU channels &lt;b&gt;&amp; more&lt;/b&gt;</textarea>" in form  # kept, and escaped
    assert '<option value="co_investment" selected>' in form
    assert 'href="#act-propose_investment"' in element(response.text, "main")  # the error summary links to it
    assert f'href="/lang/ja?next=%2Fcases%2F{case["id"]}"' in response.text  # back to the case, not the POST
    other = element(response.text, "act-add_note")
    assert "aria-invalid" not in other  # the other forms are untouched
    assert (await desk.get(case, COORDINATOR)).json()["proposal"] is None


async def test_a_refusal_by_the_rules_is_shown_beside_its_form(console: Console, desk: Desk) -> None:
    case = await to_matching(desk)
    await desk.ok(case, "run_matching", officer(SBIC), limit=3)
    response = await console.submit(officer(SBIC), case["id"], "shortlist", [("sme_ids", "9999999999999")])
    assert response.status_code == 422
    form = element(response.text, "act-shortlist")
    assert "not among the candidates: 9999999999999" in text(form)


# What each person sees --------------------------------------------------------------------------------------


async def test_the_applicant_sees_no_scores_and_the_officer_sees_reasons(console: Console, desk: Desk) -> None:
    case = await to_fund_consideration(desk)
    officer_page = await console.page(officer(SBIC), f"/cases/{case['id']}")
    candidates = element(officer_page, "candidates-heading")
    assert candidates and 'class="reason"' in officer_page and "match 2 of 2" in officer_page
    applicant_page = await console.page(APPLICANT, f"/cases/{case['id']}")
    assert EN["col.score"] not in text(applicant_page) and 'class="reason"' not in applicant_page
    assert "Aichi Precision Works" in applicant_page  # interested, so named
    assert 'data-event="run_matching"' not in applicant_page and 'data-event="select_partner"' in applicant_page


async def test_japanese_labels_per_user_and_when_switched(console: Console) -> None:
    english = await console.page(APPLICANT, "/work")
    assert '<html lang="en">' in english and f"<h1>{EN['work.title']}</h1>" in english
    japanese_user = await console.page(COORDINATOR, "/work")  # Kenji Sato's language is Japanese
    assert '<html lang="ja">' in japanese_user and f"<h1>{JA['work.title']}</h1>" in japanese_user
    browser = await console.as_(APPLICANT)
    switched = await browser.get("/lang/ja", params={"next": "/cases"})
    assert switched.status_code == 303 and switched.headers["location"] == "/cases"
    japanese = await console.page(APPLICANT, "/work")
    assert '<html lang="ja">' in japanese and JA["nav.sign_out"] in japanese
    assert (await browser.get("/lang/en", params={"next": "https://evil.example"})).headers["location"] == "/"
    assert '<html lang="en">' in await console.page(APPLICANT, "/work")


async def test_operators_see_undeliverable_mail_in_the_outbox_page(
    console: Console, desk: Desk, engine: AsyncEngine
) -> None:
    case = await desk.file(APPLICANT)
    message = str(uuid.uuid4())
    async with engine.begin() as conn:
        await conn.execute(insert(notifications).values(
            id=message, case_id=case["id"], seq=1, template="relay", recipient_name="Gone",
            recipient_email="gone@acme.example", language="en", subject="s", body="b", created_at=datetime.now(UTC),
            status="undeliverable", attempts=3, last_error="550 5.1.1 <gone@acme.example>: mailbox unavailable",
        ))
    shown = await console.page(ADMIN, "/outbox")
    row = text(element(shown, f"message-{message}"))
    assert "gone@acme.example" in row and "undeliverable" in row and "550 5.1.1" in row
    assert message in row, "the id `alliance mail retry` takes is on the page"
    assert f"message-{message}" not in await console.page(ADMIN, "/outbox?status=sent")
    assert f"message-{message}" in await console.page(ADMIN, "/outbox?status=all")
    assert 'href="/outbox"' in await console.page(ADMIN, "/cases")
    for person in (APPLICANT, COORDINATOR, officer(SBIC), AUDITOR):
        assert (await (await console.as_(person)).get("/outbox")).status_code == 403


async def test_the_late_cases_of_an_office(console: Console, desk: Desk, env: WorkflowEnvironment) -> None:
    case = await desk.file(APPLICANT)
    await desk.ok(case, "relay", COORDINATOR, offices=[SBIC])
    await env.sleep(timedelta(days=20))  # past the office review's deadline: escalated to the manager
    late = await console.page(manager(SBIC), "/late")
    row = element(late, "main")
    assert f'data-case="{case["id"]}"' in row and EN["badge.overdue"] in row and "Escalation 1" in row
    assert f'data-case="{case["id"]}"' not in await console.page(manager(SJ), "/late")
    assert f'data-case="{case["id"]}"' in await console.page(COORDINATOR, "/late")
    assert (await (await console.as_(officer(SBIC))).get("/late")).status_code == 403
    dashboard = await console.page(manager(SBIC), "/dashboard")
    assert dashboard.count("<svg") == 3 and "<desc" in dashboard and "SBIC" in text(element(dashboard, "breaches"))


async def test_the_auditor_sees_the_chain_and_exports(console: Console, desk: Desk) -> None:
    case = await to_matching(desk)
    audit = await console.page(AUDITOR, "/audit")
    assert f'href="/cases/{case["id"]}/audit"' in audit and "/audit/export?format=csv" in audit
    detail = await console.page(AUDITOR, f"/cases/{case['id']}/audit")
    assert 'data-chain="valid"' in detail and detail.count('<tr data-event="') == 3
    exported = await (await console.as_(AUDITOR)).get(f"/audit/export?format=jsonl&case={case['id']}")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("application/x-ndjson")
    assert len(exported.text.strip().splitlines()) == 4  # three events and the manifest
    assert "/audit/export?format=csv&amp;access=true" in audit
    with_access = await (await console.as_(AUDITOR)).get(f"/audit/export?format=jsonl&case={case['id']}&access=true")
    assert with_access.status_code == 200 and '{"access":' in with_access.text  # the pages above were noted
    assert check_export(with_access.content).ok
    officer_audit = await console.page(officer(SBIC), f"/cases/{case['id']}/audit")
    assert 'data-chain="valid"' in officer_audit and "/audit/export" not in officer_audit
    officer_browser = await console.as_(officer(SBIC))
    assert (await officer_browser.get("/audit")).status_code == 403
    assert (await officer_browser.get(f"/audit/export?case={case['id']}")).status_code == 403
    assert (await (await console.as_(APPLICANT)).get(f"/cases/{case['id']}/audit")).status_code == 403


async def test_filing_from_the_console(console: Console, desk: Desk) -> None:
    browser = await console.as_(APPLICANT)
    sample = await console.page(APPLICANT, "/cases/new?sample=true")
    assert 'value="Acme GmbH"' in sample and 'name="on_behalf_of"' not in sample
    assert re.search(r'<input type="email" id="[^"]+" name="contact_email"', sample), "an address is an e-mail input"
    fields = [("csrf_token", csrf_of(sample)), ("company_name", ""), ("country", "Germany"), ("industry", "Robots"),
              ("description", "Assembly robots"), ("contact_name", "Anna"), ("contact_email", "anna@acme.example"),
              ("contact_language", "en"), ("technologies", "sensors\r\nprecision machining"),
              ("alliance_types", "fund_lp"), ("ticket_min", "1"), ("ticket_max", "100"), ("offers", "EU channels")]
    refused = await browser.post("/cases/new", data=as_form(fields))
    assert refused.status_code == 422
    assert "file-company_name-error" in refused.text and "file-country-error" in refused.text
    assert 'value="Germany"' in refused.text and "sensors\r\nprecision machining</textarea>" in refused.text
    fixed = [(k, {"company_name": "Console GmbH", "country": "DE"}.get(k, v)) for k, v in fields]
    filed = await browser.post("/cases/new", data=as_form(fixed))
    assert filed.status_code == 303
    case_id = filed.headers["location"].split("/")[2].split("?")[0]
    case = (await desk.get(case_id, COORDINATOR)).json()
    assert case["company"]["name"] == "Console GmbH" and case["request"]["seeking"]["technologies"] == [
        "sensors", "precision machining"]
    case_page = await console.page(APPLICANT, f"/cases/{case_id}")
    assert re.search(r'<input type="email" id="[^"]+" name="email"', case_page), "update_contact's address too"
    assert not re.search(r'<textarea id="[^"]+" name="email"', case_page)
    assert (await (await console.as_(officer(SBIC))).get("/cases/new")).status_code == 403


async def test_a_number_field_with_what_is_no_number_is_an_error_beside_it_not_a_failure(
    console: Console, desk: Desk
) -> None:
    browser = await console.as_(APPLICANT)
    sample = await console.page(APPLICANT, "/cases/new?sample=true")
    fields = [("company_name", "Numbers GmbH"), ("country", "DE"), ("industry", "Robots"),
              ("description", "Assembly robots"), ("contact_name", "Anna"), ("contact_email", "anna@acme.example"),
              ("contact_language", "en"), ("technologies", "sensors"), ("alliance_types", "fund_lp"),
              ("ticket_min", "1"), ("ticket_max", "100"), ("offers", "EU channels")]
    for typed in ("²", "9" * 5000, "12.5", "1e9"):
        wrong = [(k, typed if k == "ticket_max" else v) for k, v in fields]
        refused = await browser.post("/cases/new", data=as_form([("csrf_token", csrf_of(sample)), *wrong]))
        assert refused.status_code == 422, (typed[:10], refused.status_code)
        assert "file-ticket_max-error" in refused.text
    wide = [(k, {"ticket_min": "１,０００", "ticket_max": "２０００"}.get(k, v)) for k, v in fields]
    filed = await browser.post("/cases/new", data=as_form([("csrf_token", csrf_of(sample)), *wide]))
    assert filed.status_code == 303
    case_id = filed.headers["location"].split("/")[2].split("?")[0]
    assert (await desk.get(case_id, COORDINATOR)).json()["request"]["ticket_jpy"] == {"min": 1000, "max": 2000}
    case = await to_fund_consideration(desk)
    for typed in ("²", "9" * 5000):
        response = await console.submit(officer(SBIC), case["id"], "propose_investment",
                                     [("route", "co_investment"), ("amount_jpy", typed), ("rationale", "r")])
        assert response.status_code == 422
        assert "act-propose_investment-amount_jpy-error" in response.text


async def test_a_coordinator_files_on_behalf_and_the_mail_page_is_there_in_development(console: Console) -> None:
    sample = await console.page(COORDINATOR, "/cases/new?sample=true")
    assert 'name="on_behalf_of"' in sample and 'value="acme-gmbh"' in sample
    assert (await (await console.as_(COORDINATOR)).get("/mail")).status_code == 200


# Pure parts -------------------------------------------------------------------------------------------------


def sample_state() -> CaseState:
    """A case just filed, built in memory."""
    return new_case(str(uuid.uuid4()), FilingRequest.model_validate(filing()), APPLICANT_ACTOR, datetime.now(UTC))



def test_every_label_exists_in_both_languages() -> None:
    assert set(EN) == set(JA)
    t = Translator("ja")
    for action in Action:
        assert t.code("action", action) == JA[f"action.{action}"]
    for payload in ACTION_PAYLOADS.values():
        for name in payload.model_fields:
            assert f"field.{name}" in EN, name


@pytest.mark.parametrize("action", list(Action))
def test_each_payload_model_becomes_a_form_and_back(action: Action) -> None:
    """Any payload model renders, and an untouched form of one without required fields is a valid payload."""
    state = sample_state()
    fields = form_fields(action, state, state.filed_by, Translator("en"))
    assert [f.name for f in fields] == list(ACTION_PAYLOADS[action].model_fields)
    if not any(f.required for f in fields):
        parse_payload(action, parse_form(action, FormData([])))


def test_field_kinds_follow_the_annotations() -> None:
    state = sample_state()
    kinds = {(a, f.name): f for a in Action for f in form_fields(a, state, state.filed_by, Translator("en"))}
    assert kinds[(Action.RELAY, "offices")].kind == "checkboxes"
    assert [c.value for c in kinds[(Action.RELAY, "offices")].choices] == [o.value for o in Office]
    assert kinds[(Action.REQUEST_INFO, "questions")].kind == "lines"
    assert kinds[(Action.PROPOSE_INVESTMENT, "route")].kind == "select"
    assert (kinds[(Action.PROPOSE_INVESTMENT, "amount_jpy")].kind, kinds[(Action.PROPOSE_INVESTMENT,
                                                                          "amount_jpy")].minimum) == ("number", 1)
    assert kinds[(Action.RUN_MATCHING, "overseas_interest")].kind == "checkbox"
    assert kinds[(Action.REASSIGN, "assignee")].kind == "text"
    assert kinds[(Action.ADD_NOTE, "text")].kind == "textarea"
    assert (kinds[(Action.UPDATE_CONTACT, "email")].kind, kinds[(Action.UPDATE_CONTACT, "name")].kind) == (
        "email", "text")
    assert (kinds[(Action.RECORD_RESPONSE, "sme_id")].kind, kinds[(Action.RECORD_RESPONSE, "sme_id")].choices) == (
        "select", ())  # SMEs are chosen, never typed; this case has no candidates yet


def test_forms_parse_into_payloads() -> None:
    form = FormData([("offices", "sbic"), ("offices", "sme_support_japan"), ("note", "a\r\nb")])
    assert parse_form(Action.RELAY, form) == {"offices": ["sbic", "sme_support_japan"], "note": "a\nb"}
    questions = FormData([("questions", "Which markets?\r\n\r\n  Which volumes? ")])
    assert parse_form(Action.REQUEST_INFO, questions) == {"questions": ["Which markets?", "Which volumes?"]}
    matching = FormData([("limit", "5"), ("min_employees", ""), ("overseas_interest", "on"), ("prefectures", "")])
    assert parse_form(Action.RUN_MATCHING, matching) == {"limit": 5, "overseas_interest": True}
    assert parse_form(Action.PROPOSE_INVESTMENT, FormData([("amount_jpy", "1,000"), ("route", "")])) == {
        "amount_jpy": 1000}
    assert parse_form(Action.PROPOSE_INVESTMENT, FormData([("amount_jpy", "lots")]))["amount_jpy"] == "lots"
    assert parse_form(Action.RECORD_RESPONSE, FormData([("sme_id", "1")]))["interested"] is False


def test_bar_charts_are_svg_with_their_numbers_described_and_text_escaped() -> None:
    svg = bar_chart("c1", "Cases <per> stage", [("Screening", 4), ("Matching & more", 2), ("Closed", 0)])
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"') and svg.endswith("</svg>")
    assert 'role="img"' in svg and 'aria-labelledby="c1-title c1-desc"' in svg
    assert "<title id=\"c1-title\">Cases &lt;per&gt; stage</title>" in svg
    assert "Screening: 4; Matching &amp; more: 2; Closed: 0" in svg
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', svg)]
    assert widths[0] == 2 * widths[1] and widths[2] == 0
    assert "1.5 d" in bar_chart("c2", "Median", [("Screening", 1.5)], unit=" d")
    empty = bar_chart("c3", "Nothing", [], empty="No data yet")
    assert "<rect" not in empty and "No data yet" in empty

