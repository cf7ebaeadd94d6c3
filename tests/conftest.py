"""Real parts for the integration and e2e tests (unit tests use none): PostgreSQL (embedded, or
TEST_DATABASE_URL) and Temporal's test server; the people and scenarios are in tests/helpers."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import hypothesis
import pytest
from playwright.async_api import Browser
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from app.bootstrap import mail_relay
from app.embedded_postgres import start_postgres
from contracts import search_attributes
from contracts.search_attributes import DEV_SERVER_TYPES
from domain.model import Role
from infra import migrate
from infra.db import create_engine, session_factory
from infra.embedded_database import embedded_postgres_url
from infra.mail_sink import KeepMessages
from infra.settings import Settings
from infra.sme_registry import seed_demo_smes
from infra.startup import free_port
from infra.temporal import ensure_search_attributes
from infra.users import ensure_demo_users
from services.context import Services
from services.mail_relay import MailRelay
from tests.helpers.browser import chromium, ensure_japanese_fonts
from tests.helpers.desk import Desk
from tests.helpers.mail import MailSink
from tests.helpers.support import DEV_SERVER, PEPPER, TEST_SERVER, with_database
from tests.helpers.team import Team, team_desk
from workers.case_worker import build_worker


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that touches PostgreSQL is a storage test (CI runs those on both servers). The `long` tests run
    first, then the other `slow` ones, then the rest in the order collected: with `--dist worksteal` a process
    with nothing left takes work from the other's queue, so the run ends on short tests, never one process alone
    on a long one started late."""
    for item in items:
        if "postgres_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.storage)
    items.sort(key=lambda item: 0 if item.get_closest_marker("long") else 1 if item.get_closest_marker("slow") else 2)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server URL: the one named by TEST_DATABASE_URL, else an embedded PostgreSQL of our own."""
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        yield external
        return
    port, data_dir = free_port(), Path(tmp_path_factory.mktemp("pg"))
    process = start_postgres(data_dir, port)
    yield embedded_postgres_url(data_dir, port, "postgres")  # its Unix-domain socket, as the product uses it
    process.stop()


async def _on_server(server_url: str, statement: str) -> None:
    url = make_url(server_url)
    socket = url.query.get("host")  # the embedded server's Unix-domain socket folder, when it is reached that way
    conn = await asyncpg.connect(
        host=url.host or socket, port=url.port or int(str(url.query.get("port", 5432))), user=url.username,
        password=url.password, database=url.database,
    )
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def create_database(server_url: str, template: str | None = None) -> str:
    """A database of its own for a test (or the session), on the server under test: empty, or a copy of the
    database named `template` (which nobody may be connected to)."""
    name = f"alliance_test_{uuid.uuid4().hex[:10]}"
    copied = f' TEMPLATE "{template}"' if template else ""
    for attempt in range(50):
        try:
            await _on_server(server_url, f'CREATE DATABASE "{name}"{copied}')
            break
        except asyncpg.ObjectInUseError:  # the template's last connection is still closing (it has just been used)
            if attempt == 49:
                raise
            await asyncio.sleep(0.1)
    return with_database(server_url, name)


async def drop_database(server_url: str, url: str) -> None:
    await _on_server(server_url, f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


@pytest.fixture
async def empty_database(postgres_server: str) -> AsyncIterator[str]:
    url = await create_database(postgres_server)
    yield url
    await drop_database(postgres_server, url)


@pytest.fixture(scope="session")
async def migrated_template(postgres_server: str, settings: Settings) -> AsyncIterator[str]:
    """The name of a database migrated to head once per test process and left alone: `migrated_database` copies
    it (CREATE DATABASE … TEMPLATE), a fraction of the time the migrations take; they are run for real here, by
    the session's `engine` and by tests/integration/test_migrations.py."""
    url = await create_database(postgres_server)
    engine = create_engine(settings, url)
    await migrate.upgrade(engine)
    await engine.dispose()
    yield str(make_url(url).database)
    await drop_database(postgres_server, url)


@pytest.fixture
async def migrated_database(postgres_server: str, migrated_template: str) -> AsyncIterator[str]:
    """A database of the test's own, migrated to head (a copy of `migrated_template`)."""
    url = await create_database(postgres_server, template=migrated_template)
    yield url
    await drop_database(postgres_server, url)


@pytest.fixture
async def registry(migrated_database: str, settings: Settings) -> AsyncIterator[AsyncEngine]:
    """An engine on a migrated database of the test's own, for tests that fill the SME registry their way."""
    engine = create_engine(settings, migrated_database)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(token_pepper=PEPPER, temporal_task_queue=f"test-{uuid.uuid4()}", smtp_port=free_port(),
                    smtp_host="127.0.0.1")


@pytest.fixture(scope="session")
def mail_sink(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailSink]:
    sink = MailSink(KeepMessages(Path(tmp_path_factory.mktemp("mail"))), settings.smtp_port)
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
async def engine(postgres_server: str, settings: Settings) -> AsyncIterator[AsyncEngine]:
    url = await create_database(postgres_server)
    engine = create_engine(settings, url)
    await migrate.upgrade(engine)
    yield engine
    await engine.dispose()
    await drop_database(postgres_server, url)


@pytest.fixture(scope="session")
async def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture(scope="session")
async def tokens(sessions: async_sessionmaker[AsyncSession]) -> dict[tuple[Role, str], str]:
    issued = await ensure_demo_users(sessions, PEPPER)
    return {(user.role, user.org): token for user, token in issued}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test module that sets WORKFLOW_ENVIRONMENTS runs on each server it names."""
    servers = getattr(metafunc.module, "WORKFLOW_ENVIRONMENTS", None)
    if servers and "env" in metafunc.fixturenames:
        metafunc.parametrize("env", servers, indirect=True)


@pytest.fixture(scope="session")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal dev server (the kind `alliance run` starts), shared: it has no clock to skip."""
    async with await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(DEV_SERVER),
        search_attributes=list(search_attributes.ALL),
        dev_server_log_level="error",
    ) as env:
        yield env


@pytest.fixture
async def env(request: pytest.FixtureRequest, dev_server: WorkflowEnvironment) -> AsyncIterator[WorkflowEnvironment]:
    """By default a fresh time-skipping test server per test (a shared one stops skipping)."""
    if getattr(request, "param", "time-skipping") == "local":
        yield dev_server
        return
    async with await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=str(TEST_SERVER)
    ) as env:
        await ensure_search_attributes(env.client, "default", DEV_SERVER_TYPES)
        yield env


@pytest.fixture
async def temporal(env: WorkflowEnvironment, settings: Settings,
                   engine: AsyncEngine, mail_sink: MailSink) -> AsyncIterator[Client]:
    """The test server's client, with a case worker polling the task queue."""
    async with build_worker(env.client, settings.temporal_task_queue, engine, keys=settings.audit_keys):
        yield env.client


@pytest.fixture
async def relay(
    temporal: Client, settings: Settings, engine: AsyncEngine, mail_sink: MailSink
) -> AsyncIterator[MailRelay]:
    """The mail relay as workers run it, sending the outbox to the sink (`desk` tests have it)."""
    async with mail_relay(settings, engine, temporal).running() as running:
        yield running


@pytest.fixture
async def http(
    temporal: Client, settings: Settings, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app over ASGI, wired to real PostgreSQL and the Temporal test server."""
    app = create_app(Services(settings, engine, sessions, temporal))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk") as client:
        yield client


@pytest.fixture
async def team(env: WorkflowEnvironment, settings: Settings, migrated_database: str,
               mail_sink: MailSink) -> AsyncIterator[Team]:
    """The real app and a worker on a database of the test's own, with an office of two officers (issue 21)."""
    async with team_desk(env.client, settings, migrated_database) as desk:
        yield desk


@pytest.fixture
async def desk(http: httpx.AsyncClient, tokens: dict[tuple[Role, str], str], engine: AsyncEngine,
               relay: MailRelay) -> Desk:
    await seed_demo_smes(engine)
    return Desk(http, tokens)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium for the console's browser tests, shared by the test process's modules. The Japanese font
    is installed first: Chromium reads the installed fonts when it starts, so one installed later by a test is not
    drawn with until the next launch."""
    ensure_japanese_fonts()
    async with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
async def module_database(postgres_server: str) -> AsyncIterator[str]:
    """A database of the test module's own (its tests share one app on it)."""
    url = await create_database(postgres_server)
    yield url
    await drop_database(postgres_server, url)


# Property tests run beside PostgreSQL, Temporal and each other on a loaded machine: how long one example takes is
# no finding (speed is measured by the benchmarks), so no deadline, and slow data generation is no failure either.
hypothesis.settings.register_profile(
    "suite", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow]
)
hypothesis.settings.load_profile("suite")
