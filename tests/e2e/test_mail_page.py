"""Issue 19 seen 3 (issue 17 item 6): the development `/mail` page shows a person only the messages addressed to
them; an admin sees every message. An address is the same address with its domain written as the U-label or
the A-label (the desk keeps `…@例え.jp`, the message may be sent to `…@xn--r8jz45g.jp`)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.app import create_app
from domain.model import Role
from infra.settings import Settings
from infra.users import NewUser, add_user
from services.context import Services
from tests.helpers.people import ADMIN, APPLICANT, FUND_MEMBER, SBIC, Person, officer
from tests.helpers.support import PEPPER

MESSAGES = {  # subject → To, as the outbox addresses them (the demo users' and the filing contact's addresses)
    "GA-1 has been accepted": "anna@acme.example",
    "GA-1 has been relayed for review": "officer@sbic.example",
    "Investment proposal ready: GA-1": "Yuki Tanaka <tanaka@fund.example>",
    "GA-2 has been accepted": "someone@globex.example",
    "GA-3 has been accepted": "Kenji Sato <Kenji@XN--R8JZ45G.jp>",  # a Unicode domain, sent as its A-label
}


def keep(folder: Path) -> None:
    folder.mkdir(parents=True)
    for n, (subject, to) in enumerate(MESSAGES.items()):
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "desk@localhost", to, subject
        message["Message-ID"] = f"<m{n}@desk>"
        message["Date"] = format_datetime(datetime(2026, 11, 30, 9, n, tzinfo=UTC))
        message.set_content(f"about {subject}")
        (folder / f"m{n}.eml").write_bytes(bytes(message))


async def test_each_person_reads_only_their_own_mail_and_an_admin_all(
    tmp_path: Path, temporal: Client, settings: Settings, engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession], tokens: dict[Person, str],
) -> None:
    mine = settings.model_copy(update={"data_dir": tmp_path})
    keep(mine.mail_dir)
    _, globex = await add_user(sessions, NewUser("Hank", Role.APPLICANT, "globex-sa", "someone@globex.example"),
                               PEPPER)
    _, kenji = await add_user(sessions, NewUser("Kenji", Role.APPLICANT, "reitai", "kenji@例え.jp"), PEPPER)
    _, nobody = await add_user(sessions, NewUser("No Mail", Role.APPLICANT, "initech"), PEPPER)
    expected = {
        tokens[APPLICANT]: {"GA-1 has been accepted"},
        tokens[officer(SBIC)]: {"GA-1 has been relayed for review"},
        tokens[FUND_MEMBER]: {"Investment proposal ready: GA-1"},
        globex: {"GA-2 has been accepted"},
        kenji: {"GA-3 has been accepted"},
        nobody: set(),
        tokens[ADMIN]: set(MESSAGES),
    }
    app = create_app(Services(mine, engine, sessions, temporal))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk") as browser:
        for token, subjects in expected.items():
            browser.cookies.set("casedesk_session", token)
            page = await browser.get("/mail")
            assert page.status_code == 200
            assert {s for s in MESSAGES if s in page.text} == subjects
