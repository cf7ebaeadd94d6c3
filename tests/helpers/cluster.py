"""A whole Case Desk on this machine, one real process per part, for the scale-out and fault tests.

`Cluster` starts an embedded PostgreSQL, a file-backed Temporal dev server (so it can be restarted with its
state), an SMTP sink, and N `alliance worker` and M `alliance api` processes configured only by environment
variables, as an operator would run them. It can SIGKILL and restart any of them, stop and start PostgreSQL,
and restart Temporal on the same port and database file; `running_cluster` always stops every process.

`Driver` takes cases through their lifecycle over HTTP as the demo people, spreading requests over the API
processes. Every filing and action carries an Idempotency-Key, so a request whose API died (or that got a
503) is simply sent again to the next API with the same key: the product must apply it at most once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from app.embedded_postgres import ensure_database, start_postgres
from app.embedded_temporal import start_temporal
from app.processes import ChildProcess, wait_for_port
from domain.chain_verification import verify_chain
from infra.audit_trail import stored_entries
from infra.embedded_database import EMBEDDED_DATABASE
from infra.settings import Settings
from infra.sme_registry import seed_demo_smes
from infra.startup import free_port
from infra.tables import cases
from infra.users import ensure_demo_users
from tests.helpers.people import APPLICANT, COORDINATOR, FUND_MEMBER, SBIC, SJ, Person, officer
from tests.helpers.support import filing

ALLIANCE = Path(sys.executable).parent / "alliance"
PEPPER = "cluster-pepper"
NAMESPACE = "default"
START_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0
# Settings are read case-insensitively; none may leak into the processes from the environment running the tests.
NOT_INHERITED = {name.upper() for name in Settings.model_fields} | {"TEST_DATABASE_URL", "COLUMNS", "LINES"}


async def _exited(process: ChildProcess, within: float) -> bool:
    """Wait without blocking the event loop (the driver keeps running meanwhile)."""
    deadline = time.monotonic() + within
    while process.popen.poll() is None:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def stop_process(process: ChildProcess | None, within: float = STOP_TIMEOUT) -> None:
    """Its own stop signal (SIGINT for PostgreSQL, SIGTERM otherwise), then SIGKILL to its group."""
    if process is None or process.popen.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.popen.send_signal(process.stop_signal)
    if not await _exited(process, within):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.popen.pid, signal.SIGKILL)
        await _exited(process, 10)


@dataclass
class Member:
    """One `alliance worker` or `alliance api` process; restarting it keeps its name, port and log."""

    name: str
    command: str
    log_path: Path
    port: int | None = None
    process: ChildProcess | None = None
    starts: int = 0

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.popen.poll() is None

    @property
    def base_url(self) -> str:
        assert self.port is not None, f"{self.name} serves no HTTP"
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Cluster:
    """The parts, their ports and logs under `root`; every method that starts a process runs on the main
    thread (PR_SET_PDEATHSIG ties a child to the thread that started it, so no thread pools here)."""

    def __init__(self, root: Path, *, workers: int, apis: int) -> None:
        self.root = root
        ports: set[int] = set()
        while len(ports) < 4 + apis:  # distinct, though the kernel may hand out a port twice in a row
            ports.add(free_port())
        self.pg_port, self.temporal_port, self.ui_port, self.smtp_port, *api_ports = sorted(ports)
        self.task_queue = f"cluster-{uuid.uuid4().hex[:8]}"
        self.database_url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.pg_port}/{EMBEDDED_DATABASE}"
        self.workers = [Member(f"worker-{n}", "worker", root / f"worker-{n}.log") for n in range(1, workers + 1)]
        self.apis = [
            Member(f"api-{n}", "api", root / f"api-{n}.log", port) for n, port in enumerate(api_ports, start=1)
        ]
        self.postgres: ChildProcess | None = None
        self.temporal: ChildProcess | None = None
        self.sink: ChildProcess | None = None
        # No pool: the test's own reads must not trip over connections that died with a stopped PostgreSQL.
        self.engine: AsyncEngine = create_async_engine(self.database_url, poolclass=NullPool)
        self.sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(self.engine, expire_on_commit=False)
        self.tokens: dict[Person, str] = {}

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"

    @property
    def members(self) -> list[Member]:
        return [*self.workers, *self.apis]

    def env(self, member: Member) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key.upper() not in NOT_INHERITED}
        env.update(
            DATA_DIR=str(self.root / "data"),
            DATABASE_URL=self.database_url,
            TEMPORAL_ADDRESS=self.temporal_address,
            TEMPORAL_NAMESPACE=NAMESPACE,
            TEMPORAL_TASK_QUEUE=self.task_queue,
            TOKEN_PEPPER=PEPPER,
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(self.smtp_port),
            LOG_FORMAT="json",
            LOG_LEVEL="INFO",
        )
        if member.port is not None:
            env["API_PORT"] = str(member.port)
        return env

    # -- start-up ---------------------------------------------------------------------------------

    async def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.start_postgres()
        await ensure_database(self.pg_port, EMBEDDED_DATABASE)
        self.temporal = start_temporal(self.root, self.temporal_port, self.ui_port, NAMESPACE)
        self.sink = ChildProcess.start(
            "mail sink",
            [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.smtp_port}",
             "-c", "aiosmtpd.handlers.Sink"],
            self.root / "mail.log",
        )
        wait_for_port("127.0.0.1", self.smtp_port, 30, self.sink)
        migrate = Member("migrate", "migrate", self.root / "migrate.log")
        self.launch(migrate)
        assert migrate.process is not None
        if not await _exited(migrate.process, START_TIMEOUT):
            await stop_process(migrate.process)
        assert migrate.process.popen.returncode == 0, f"alliance migrate failed:\n{migrate.log()}"
        issued = await ensure_demo_users(self.sessions, PEPPER)
        self.tokens = {(user.role, user.org): token for user, token in issued}
        await seed_demo_smes(self.engine)
        for member in self.members:
            self.launch(member)
        await asyncio.gather(*(self.ready(member, 0) for member in self.members))

    def start_postgres(self) -> None:
        self.postgres = start_postgres(self.root, self.pg_port)

    def launch(self, member: Member) -> int:
        """Start the member's process; returns where its new log lines begin (to see it become ready)."""
        mark = member.log_path.stat().st_size if member.log_path.exists() else 0
        # `env -C` runs it in the cluster's folder (no `.env` of the repository is read), as the same process.
        member.process = ChildProcess.start(
            member.name, ["env", "-C", str(self.root), str(ALLIANCE), member.command], member.log_path,
            env=self.env(member),
        )
        member.starts += 1
        return mark

    async def ready(self, member: Member, mark: int) -> None:
        """A worker is ready when it says it polls; an API when /health is green."""
        deadline = time.monotonic() + START_TIMEOUT
        async with httpx.AsyncClient(timeout=5) as http:
            while True:
                assert member.process is not None and member.alive, f"{member.name} exited:\n{member.log()[-3000:]}"
                assert time.monotonic() < deadline, f"{member.name} not ready:\n{member.log()[-3000:]}"
                if member.port is None:
                    if b"worker polling" in member.log_path.read_bytes()[mark:]:
                        return
                else:
                    with contextlib.suppress(httpx.TransportError):
                        if (await http.get(f"{member.base_url}/health")).status_code == 200:
                            return
                await asyncio.sleep(0.2)

    # -- faults -----------------------------------------------------------------------------------

    async def kill(self, member: Member) -> None:
        """SIGKILL to the member's process group: no graceful anything."""
        assert member.process is not None and member.alive, f"{member.name} is not running"
        os.killpg(member.process.popen.pid, signal.SIGKILL)
        assert await _exited(member.process, 10)
        assert member.process.popen.returncode == -signal.SIGKILL

    async def restart(self, member: Member) -> None:
        if member.alive:
            await self.kill(member)
        await self.ready(member, self.launch(member))

    async def stop_postgres(self) -> None:
        """PostgreSQL's fast shutdown: open transactions are rolled back, clients are cut off."""
        await stop_process(self.postgres)

    async def restart_temporal(self) -> None:
        """Stop the dev server and start it again on the same port and database file."""
        await stop_process(self.temporal)
        self.temporal = start_temporal(self.root, self.temporal_port, self.ui_port, NAMESPACE)

    async def stop(self) -> None:
        """Every process, however the test ended: the product's first, then the servers; last, anything of
        ours still naming the cluster's folder (a server whose start-up failed half-way)."""
        await asyncio.gather(*(stop_process(m.process) for m in self.members))
        await asyncio.gather(stop_process(self.sink), stop_process(self.temporal), stop_process(self.postgres))
        await self.engine.dispose()
        leftovers = []
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if str(self.root) in " ".join(child.cmdline()):
                    child.kill()
                    leftovers.append(child)
        psutil.wait_procs(leftovers, timeout=10)

    def describe(self) -> str:
        """Which processes still run, and where their logs are (for failure messages)."""
        states = ", ".join(f"{m.name}: {'up' if m.alive else 'down'}" for m in self.members)
        return f"{states}; logs in {self.root}"


@contextlib.asynccontextmanager
async def running_cluster(root: Path, *, workers: int, apis: int) -> AsyncIterator[Cluster]:
    cluster = Cluster(root, workers=workers, apis=apis)
    try:
        await cluster.start()
        yield cluster
    finally:
        await cluster.stop()


# -- driving cases over HTTP ----------------------------------------------------------------------

Answer = dict[str, Any]


@dataclass(frozen=True)
class Step:
    """An action, who takes it, and its payload (made from the case as the previous answer showed it)."""

    action: str
    person: Person
    payload: Callable[[Answer], dict[str, Any]]


def _best(case: Answer) -> str:
    best: str = case["candidates"][0]["sme_id"]
    return best


ROADS: dict[str, tuple[list[Step], str]] = {
    "fund": (
        [
            Step("relay", COORDINATOR, lambda _: {"offices": [SJ, SBIC], "note": "strong tech fit"}),
            Step("accept_case", officer(SBIC), lambda _: {"note": "we take it"}),
            Step("run_matching", officer(SBIC), lambda _: {"limit": 5}),
            Step("shortlist", officer(SBIC), lambda case: {"sme_ids": [_best(case)]}),
            Step("record_response", officer(SBIC),
                 lambda case: {"sme_id": _best(case), "interested": True, "note": "keen"}),
            Step("select_partner", officer(SBIC), lambda case: {"sme_ids": [_best(case)]}),
            Step("propose_investment", officer(SBIC),
                 lambda _: {"route": "co_investment", "amount_jpy": 200_000_000, "rationale": "opens EU channels"}),
            Step("approve_investment", FUND_MEMBER, lambda _: {"note": "approved"}),
        ],
        "alliance_formed_with_fund",
    ),
    "withdrawn": (
        [
            Step("request_info", COORDINATOR, lambda _: {"questions": ["Which markets?"]}),
            Step("provide_info", APPLICANT, lambda _: {"answer": "Germany and Poland"}),
            Step("withdraw", APPLICANT, lambda _: {"reason": "changed strategy"}),
        ],
        "withdrawn",
    ),
    "rejected": ([Step("reject", COORDINATOR, lambda _: {"reason": "outside the scheme"})], "rejected_at_screening"),
}
# Every road of the driver: to the Fund (9 events), withdrawn after a question (4), rejected at screening (2).
MIX = ("fund", "withdrawn", "rejected")


@dataclass
class CaseRun:
    """One case as the driver saw it: the actions answered 200/201 (in order) and the last answer."""

    company: str
    key: str
    road: str
    case_id: str | None = None
    accepted: list[str] = field(default_factory=list)
    last: Answer = field(default_factory=dict)
    error: str | None = None

    @property
    def steps(self) -> list[Step]:
        return ROADS[self.road][0]

    @property
    def outcome(self) -> str:
        return ROADS[self.road][1]

    @property
    def expected_types(self) -> list[str]:
        return ["filed", *(step.action for step in self.steps)]


def plan_cases(count: int, label: str, mix: tuple[str, ...] = MIX) -> list[CaseRun]:
    """`count` cases taking the roads of `mix` in turn, each with a company name and key prefix of its own."""
    run = uuid.uuid4().hex[:8]
    return [CaseRun(f"{label} {run} {n:03d}", f"{label}-{run}-{n:03d}", mix[n % len(mix)]) for n in range(count)]


# Sent again with the same Idempotency-Key, which makes that safe; a 5xx other than 503 is also reported as a bug.
RETRIED_STATUSES = {500, 502, 503, 504}


class Driver:
    """Async HTTP clients, one per API process; requests go round the APIs, retries to the next one."""

    def __init__(self, apis: list[Member], tokens: dict[Person, str], *, cases_at_once: int, timeout: float) -> None:
        self.apis = apis
        self.tokens = tokens
        self.gate = asyncio.Semaphore(cases_at_once)
        self.deadline = time.monotonic() + timeout
        self.clients = [
            httpx.AsyncClient(base_url=api.base_url, timeout=httpx.Timeout(60, connect=5)) for api in apis
        ]
        self.turn = itertools.count()
        self.down_until = [0.0] * len(apis)
        self.statuses: Counter[int] = Counter()
        self.failures: Counter[str] = Counter()  # transport errors and retried statuses, by kind
        self.server_errors: list[str] = []  # every 5xx other than 503 (a product bug, reported by the tests)
        self.in_flight = 0
        self.cases_done = 0
        self.actions_done = 0
        self._waiters: list[tuple[Callable[[], bool], asyncio.Event]] = []

    async def __aenter__(self) -> Driver:
        return self

    async def __aexit__(self, *_: object) -> None:
        for client in self.clients:
            await client.aclose()

    def after(self, *, cases: int = 0, actions: int = 0) -> asyncio.Event:
        """An event set once that many cases are done and that many filings and actions were accepted."""
        event = asyncio.Event()
        self._waiters.append((lambda: self.cases_done >= cases and self.actions_done >= actions, event))
        return event

    def _progress(self) -> None:
        for reached, event in self._waiters:
            if reached():
                event.set()

    def _pick(self, attempt: int, first: int) -> int:
        """The next API in turn, skipping one that just refused connections (unless all did)."""
        now = time.monotonic()
        for offset in range(len(self.apis)):
            index = (first + attempt + offset) % len(self.apis)
            if self.down_until[index] <= now:
                return index
        return (first + attempt) % len(self.apis)

    async def send(
        self, method: str, path: str, person: Person, *, body: dict[str, Any] | None = None, key: str | None = None
    ) -> httpx.Response:
        """The request, sent again (same Idempotency-Key) to the next API while the answer is lost or a 5xx."""
        headers = {"Authorization": f"Bearer {self.tokens[person]}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        first = next(self.turn)
        for attempt in itertools.count():
            assert time.monotonic() < self.deadline, f"{method} {path}: no answer before the deadline"
            index = self._pick(attempt, first)
            self.in_flight += 1
            try:
                response = await self.clients[index].request(method, path, json=body, headers=headers)
            except httpx.TransportError as error:
                self.failures[type(error).__name__] += 1
                if isinstance(error, httpx.ConnectError):
                    self.down_until[index] = time.monotonic() + 2
            else:
                self.statuses[response.status_code] += 1
                if response.status_code not in RETRIED_STATUSES:
                    return response
                self.failures[str(response.status_code)] += 1
                if response.status_code != 503:
                    self.server_errors.append(f"{method} {path} → {response.status_code} {response.text[:300]}")
            finally:
                self.in_flight -= 1
            await asyncio.sleep(min(0.1 * (attempt + 1), 1.0))
        raise AssertionError("unreachable")

    async def file(self, run: CaseRun) -> None:
        response = await self.send("POST", "/api/cases", APPLICANT, body=filing(company=run.company),
                                   key=f"{run.key}-file")
        if response.status_code != 201:
            run.error = f"filing: {response.status_code} {response.text[:300]}"
            return
        run.last = response.json()
        run.case_id = run.last["id"]
        self._accepted(run, "filed")

    def _accepted(self, run: CaseRun, action: str) -> None:
        run.accepted.append(action)
        self.actions_done += 1
        self._progress()

    async def drive(self, run: CaseRun) -> CaseRun:
        """File the case and take every step of its road; stop at the first answer that is not 200."""
        async with self.gate:
            try:
                await self.file(run)
                for n, step in enumerate(run.steps, start=1):
                    if run.error is not None:
                        break
                    response = await self.send(
                        "POST", f"/api/cases/{run.case_id}/actions/{step.action}", step.person,
                        body=step.payload(run.last), key=f"{run.key}-{n}-{step.action}",
                    )
                    if response.status_code != 200:
                        run.error = f"{step.action}: {response.status_code} {response.text[:300]}"
                        break
                    run.last = response.json()
                    self._accepted(run, step.action)
            except Exception as error:  # one case's failure is reported with the others, not raised alone
                run.error = f"{type(error).__name__}: {error}"
        self.cases_done += 1
        self._progress()
        return run

    async def drive_all(self, runs: list[CaseRun]) -> list[CaseRun]:
        """Every case at once (the gate lets `cases_at_once` of them move at a time)."""
        return list(await asyncio.gather(*(self.drive(run) for run in runs)))

    async def drive_with_fault(
        self, runs: list[CaseRun], moment: asyncio.Event, fault: Callable[[], Awaitable[None]], limit: float
    ) -> tuple[int, float]:
        """Drive every case; when `moment` comes, strike with `fault`. Returns the requests in flight when it
        struck and the seconds the whole drive took; the fault never outlives the drive."""

        async def strike() -> int:
            await moment.wait()
            in_flight = self.in_flight
            await fault()
            return in_flight

        started = time.monotonic()
        striking = asyncio.create_task(strike())
        try:
            async with asyncio.timeout(limit):
                await self.drive_all(runs)
                in_flight = await striking
        finally:
            striking.cancel()
        return in_flight, time.monotonic() - started


async def problems_with(cluster: Cluster, driver: Driver, runs: list[CaseRun], via: Member) -> list[str]:
    """Everything wrong with the runs: a case not at its outcome (read through the API `via`), audit events
    that are not exactly the accepted actions, a broken chain, a company filed more than once, a 5xx other
    than 503 on the way."""
    problems = [f"{run.company}: {run.error}" for run in runs if run.error is not None]
    companies = [run.company for run in runs]
    async with cluster.sessions() as session:
        rows = await session.execute(
            select(cases.c.company_name, func.count()).where(cases.c.company_name.in_(companies))
            .group_by(cases.c.company_name)
        )
        counted: dict[str, int] = {company: count for company, count in rows}
    problems += [f"{c}: {counted.get(c, 0)} cases filed, expected 1" for c in companies if counted.get(c) != 1]

    async def check(run: CaseRun, reader: Driver) -> None:
        if run.case_id is None:
            return
        if run.accepted != run.expected_types:
            problems.append(f"{run.company}: accepted {run.accepted}, expected {run.expected_types}")
        read = await reader.send("GET", f"/api/cases/{run.case_id}", COORDINATOR)
        case = read.json()
        if read.status_code != 200 or (case.get("stage"), case.get("outcome")) != ("closed", run.outcome):
            problems.append(f"{run.company}: read {read.status_code} {case.get('stage')}/{case.get('outcome')}, "
                            f"expected closed/{run.outcome}")
        entries = await stored_entries(cluster.sessions, run.case_id)
        if [entry.type for entry in entries] != run.accepted:
            problems.append(f"{run.company}: audit events {[e.type for e in entries]} ≠ accepted {run.accepted}")
        report = verify_chain(entries)
        if not report.valid:
            problems.append(f"{run.company}: chain broken at {report.first_broken_seq}: {report.reason}")

    async with Driver([via], cluster.tokens, cases_at_once=10, timeout=120) as reader:
        gate = asyncio.Semaphore(10)

        async def gated(run: CaseRun) -> None:
            async with gate:
                await check(run, reader)

        await asyncio.gather(*(gated(run) for run in runs))
    return problems + driver.server_errors + reader.server_errors


def summary(driver: Driver, runs: list[CaseRun], elapsed: float) -> str:
    requests = sum(driver.statuses.values()) + sum(v for k, v in driver.failures.items() if not k.isdigit())
    actions = sum(len(run.accepted) for run in runs)
    return (f"{len(runs)} cases, {actions} accepted actions in {elapsed:.1f}s; {requests} HTTP requests, "
            f"statuses {dict(sorted(driver.statuses.items()))}, retried {dict(driver.failures)}")
