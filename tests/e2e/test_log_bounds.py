"""Bounded logs (issue 22): no log line over LOG_MAX_LINE_BYTES, a pathological failure is cheap to log, and a
process that logs one keeps answering /health and stops on SIGTERM within its bound.

What was seen: an activity failing with a RecursionError deep in SQLAlchemy expression building, logged by the
Temporal SDK ("Completing activity as failed", with exc_info) through our console format, took minutes to
render (Rich's tracebacks with the locals of every frame; a message of megabytes, word-wrapped), blocking the
event loop: /health did not answer and SIGTERM was not acted on.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import logging.config
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
import structlog
import typer
import uvicorn.config
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from app.cli_support import _run
from app.loop_watch import HELD_WARNING, STACK_CHARS
from app.serving import STOP_BOUND
from contracts import search_attributes
from infra.log_bounds import DEFAULT_MAX_LINE_BYTES
from infra.logging import configure_logging
from infra.settings import Settings
from infra.startup import free_port
from tests.helpers.mail import MailSink
from tests.helpers.pathological import EXPLODE, HOG, HOGGING, Call, CallOnQueue, deep_sqlalchemy_expression
from tests.helpers.product import Launched, api_base, kill, product_env, wait_healthy
from tests.helpers.support import DEV_SERVER

BOUND = DEFAULT_MAX_LINE_BYTES
HELD = "the event loop has been held"
TEN_MB = 10 * 1024 * 1024
CUT = re.compile(r"…\[cut (\d+) bytes\]")
RENDER_SECONDS = 1.0
"""CPU seconds of the logging thread for a pathological record (it takes a few milliseconds; what was seen took
minutes). CPU time, not the wall clock: on a busy CI machine the wall clock once showed 3 s for 2 ms of work."""
HEALTH_SECONDS = 5.0  # the slowest /health answer while a process logs pathological failures


class Records(io.StringIO):
    """The handler's stream: each write is one log record (message and newline)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[str] = []
        self.taken = 0

    def write(self, text: str) -> int:
        self.records.append(text)
        return super().write(text)

    def lines(self) -> list[str]:
        return self.getvalue().splitlines()

    def take(self) -> str:
        """The records written since the last call, as one text."""
        text = "".join(self.records[self.taken :])
        self.taken = len(self.records)
        return text


@pytest.fixture
def logs_into() -> Iterator[Callable[..., Records]]:
    """Configure logging as the product does, into a buffer; the set-up before comes back after the test."""
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    others = {name: (logger.handlers[:], logger.propagate, logger.level)
              for name, logger in logging.root.manager.loggerDict.items() if isinstance(logger, logging.Logger)}

    def configure(log_format: str, max_line_bytes: int = BOUND) -> Records:
        configure_logging(log_format, "INFO", max_line_bytes)
        structlog.configure(cache_logger_on_first_use=False)
        records = Records()
        ours = root.handlers[0]
        assert isinstance(ours, logging.StreamHandler)
        ours.setStream(records)
        return records

    yield configure
    root.handlers[:] = [h for h in handlers if not type(h).__module__.startswith("_pytest")]
    root.setLevel(level)
    for name, (kept, propagate, was) in others.items():
        other = logging.getLogger(name)
        other.handlers[:], other.propagate = kept, propagate
        other.setLevel(was)
    structlog.configure(**config)
    structlog.contextvars.clear_contextvars()


def sizes_within(records: Records, bound: int) -> None:
    assert records.records, "nothing was logged"
    for record in records.records:
        assert len(record.rstrip("\n").encode()) <= bound, f"a record of {len(record.encode())} bytes"
    for line in records.lines():
        assert len(line.encode()) <= bound


def timed(action: Callable[[], None]) -> float:
    """The CPU seconds this thread spent on `action` (time waiting for a core is not counted)."""
    started = time.thread_time()
    action()
    return time.thread_time() - started


def recursion_error() -> RecursionError:
    try:
        deep_sqlalchemy_expression()
    except RecursionError as error:
        return error
    raise AssertionError("no RecursionError")


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_the_temporal_sdk_logging_a_deep_sqlalchemy_recursion_is_one_short_line(
    logs_into: Callable[..., Records], log_format: str
) -> None:
    records = logs_into(log_format)
    error = recursion_error()

    def log_as_the_sdk_does() -> None:
        try:
            raise error
        except RecursionError:
            logging.getLogger("temporalio.activity").warning(
                "Completing activity as failed", exc_info=True, extra={"__temporal_error_identifier": "ActivityFailure"}
            )

    seconds = timed(log_as_the_sdk_does)
    sizes_within(records, BOUND)
    assert len(records.records) == 1
    text = records.records[0]
    print(f"\n{log_format}: a RecursionError of {depth(error)} frames logged in {seconds * 1000:.1f} ms "
          f"as {len(text.encode())} bytes")
    assert seconds < RENDER_SECONDS
    if log_format == "json":
        line = json.loads(text)
        assert (line["logger"], line["level"], line["event"]) == ("temporalio.activity", "warning",
                                                                   "Completing activity as failed")
        text = line["exception"]
    assert text.count("RecursionError: maximum recursion depth exceeded") == 1
    assert "sqlalchemy/sql/compiler.py" in text and "in visit_binary" in text  # where it recursed
    assert re.search(r"\[the \d+ frames above repeated \d+ more times\]", text), text  # once, with a count
    assert "self =" not in text and "╭" not in text  # no locals, no Rich boxes


def depth(error: BaseException) -> int:
    tb, count = error.__traceback__, 0
    while tb is not None:
        tb, count = tb.tb_next, count + 1
    return count


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_ten_megabytes_of_message_field_or_exception_message_are_cut_and_say_how_much(
    logs_into: Callable[..., Records], log_format: str
) -> None:
    logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)  # as a uvicorn run with its defaults leaves them
    records = logs_into(log_format)
    big = "é" * (TEN_MB // 2)  # 10 MB in UTF-8, 60 MB once JSON escapes it
    log = structlog.get_logger("tests.bounds")
    cases: dict[str, Callable[[], None]] = {
        "structlog message": lambda: log.info(big),
        "structlog field": lambda: log.info("payload received", payload=big, nested={"rows": [big, big]}),
        "stdlib message with args (sqlalchemy)": lambda: logging.getLogger("sqlalchemy.engine").warning("%s", big),
    }

    cause = recursion_error()

    def exception_message() -> None:
        try:
            raise RuntimeError(big) from cause
        except RuntimeError:
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")

    cases["exception message (uvicorn)"] = exception_message
    for what, action in cases.items():
        seconds = timed(action)
        text = records.take()
        print(f"\n{log_format}, {what}: {len(text.encode())} bytes in {seconds * 1000:.1f} ms")
        assert len(text.rstrip("\n").encode()) <= BOUND, what
        assert seconds < RENDER_SECONDS, what
        if log_format == "json":
            text = json.dumps(json.loads(text), ensure_ascii=False)  # a valid line; read as its values
        cut = [int(n) for n in CUT.findall(text)]
        assert cut and max(cut) > TEN_MB * 0.9, (what, cut)  # the cut says how much was not written
    sizes_within(records, BOUND)


def test_pathological_exceptions_render_in_milliseconds(logs_into: Callable[..., Records]) -> None:
    records = logs_into("console")
    log = structlog.get_logger("tests.bounds")

    def recurse(n: int) -> None:  # three functions calling each other: a round of three frames
        if n == 0:
            raise RecursionError("bottom")
        again(n - 1)

    def again(n: int) -> None:
        once_more(n)

    def once_more(n: int) -> None:
        recurse(n)

    def thousands_of_frames() -> BaseException:
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(40_000)
        try:
            recurse(10_000)
        except RecursionError as error:
            return error
        finally:
            sys.setrecursionlimit(limit)
        raise AssertionError

    def long_chain() -> BaseException:
        error: BaseException = ValueError("first")
        for n in range(2000):
            try:
                raise KeyError(n) from error
            except KeyError as raised:
                error = raised
        return error

    def cyclic_chain() -> BaseException:
        one, two = ValueError("one"), ValueError("two")
        one.__cause__, two.__cause__ = two, one
        return one

    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RecursionError("str() of me recurses")

    def noted() -> BaseException:
        error = ValueError("with notes")
        for _ in range(100):
            error.add_note("n" * 1_000_000)
        return error

    exceptions: dict[str, BaseException] = {
        "30,000 frames": thousands_of_frames(),
        "a message of 10 MB": ValueError("m" * TEN_MB),
        "a chain of 2,000": long_chain(),
        "a cyclic chain": cyclic_chain(),
        "a group of 10,000": ExceptionGroup("many", [ValueError(str(n) * 10_000) for n in range(10_000)]),
        "str() that fails": Unprintable(),
        "100 notes of 1 MB": noted(),
    }
    for what, exc in exceptions.items():
        seconds = timed(lambda exc=exc: log.error("failed", exc_info=exc))  # type: ignore[misc]
        text = records.take()
        print(f"\n{what}: {len(text.encode())} bytes in {seconds * 1000:.1f} ms")
        assert seconds < RENDER_SECONDS, what
        assert len(text.rstrip("\n").encode()) <= BOUND, what
        assert type(exc).__name__ in text, what
    sizes_within(records, BOUND)


def test_context_fields_survive_a_line_that_has_to_shrink(logs_into: Callable[..., Records]) -> None:
    records = logs_into("json")
    structlog.contextvars.bind_contextvars(request_id="req-77", case_id="c-123", workflow_id="case-c-123")
    fields = {f"field_{n}": "案件" * 2000 for n in range(300)}  # 300 fields, 24 KB each once JSON-escaped
    try:
        raise RuntimeError("x" * TEN_MB) from recursion_error()
    except RuntimeError:
        structlog.get_logger("tests.bounds").exception("matching failed", **fields)
    sizes_within(records, BOUND)
    line = json.loads(records.records[0])
    assert (line["request_id"], line["case_id"], line["workflow_id"]) == ("req-77", "c-123", "case-c-123")
    assert (line["event"], line["level"], line["logger"]) == ("matching failed", "error", "tests.bounds")
    assert "log_cut" in line or any(CUT.search(str(value)) for value in line.values())


def test_the_bound_is_the_setting(logs_into: Callable[..., Records]) -> None:
    assert Settings(_env_file=None).log_max_line_bytes == BOUND == 16 * 1024
    for log_format in ("console", "json"):
        records = logs_into(log_format, 4096)
        try:
            raise RuntimeError("x" * TEN_MB) from recursion_error()
        except RuntimeError:
            structlog.get_logger("tests.bounds").exception("failed", payload="p" * 100_000)
        logging.getLogger("temporalio.worker").warning("w" * 100_000)
        sizes_within(records, 4096)


def test_a_record_that_cannot_be_formatted_is_one_short_line_on_stderr(
    logs_into: Callable[..., Records], capsys: pytest.CaptureFixture[str]
) -> None:
    logs_into("console")
    logging.getLogger("tests.bounds").warning("%d " + "y" * TEN_MB, "not a number")  # the stdlib cannot format it
    err = capsys.readouterr().err
    assert err.startswith("--- logging error: TypeError") and err.count("\n") == 1, err[:500]
    assert len(err.encode()) <= BOUND + 1 and CUT.search(err)


def test_a_command_failing_unexpectedly_prints_a_bounded_traceback_and_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def command() -> None:
        raise RuntimeError("x" * TEN_MB) from recursion_error()

    started = time.thread_time()
    with pytest.raises(typer.Exit) as exited:
        _run(command())
    seconds = time.thread_time() - started
    err = capsys.readouterr().err
    assert exited.value.exit_code == 1 and seconds < RENDER_SECONDS + 1  # the recursion itself takes a moment
    assert err.startswith("error: the command failed unexpectedly\n"), err[:300]
    assert len(err.encode()) <= BOUND + 64 and "RecursionError" in err and CUT.search(err)


# --- real processes -----------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]  # the repository: where `tests.helpers.pathological` is found


@pytest.fixture(scope="module")
async def temporal_server() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server of this module's own (the product process keeps its Schedules there)."""
    async with await WorkflowEnvironment.start_local(
        namespace="default", port=free_port(), data_converter=pydantic_data_converter,
        search_attributes=search_attributes.ALL, dev_server_existing_path=str(DEV_SERVER),
        dev_server_log_level="error",
    ) as env:
        yield env


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[[list[str], dict[str, str]], Launched]]:
    """Start `python -m tests.helpers.pathological <args>` (the `alliance` CLI with the two extra activities)."""
    started: list[Launched] = []

    def launch(args: list[str], env: dict[str, str]) -> Launched:
        label = f"{args[0]}-{len(started)}"
        out, err = tmp_path / f"{label}.stdout", tmp_path / f"{label}.stderr"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            popen = subprocess.Popen(
                [sys.executable, "-m", "tests.helpers.pathological", *args], stdout=stdout, stderr=stderr,
                stdin=subprocess.DEVNULL, env=env, cwd=tmp_path, start_new_session=True,
            )
        launched = Launched(label, popen, out, err)
        started.append(launched)
        return launched

    yield launch
    for launched in reversed(started):
        kill(launched)


def pathological_env(tmp_path: Path, temporal: WorkflowEnvironment, database_url: str, mail_sink: MailSink,
                     **overrides: str) -> dict[str, str]:
    return product_env(
        tmp_path,
        DATABASE_URL=database_url,
        TEMPORAL_ADDRESS=temporal.client.service_client.config.target_host,
        TEMPORAL_TASK_QUEUE=f"bounds-{uuid.uuid4()}",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(mail_sink.port),
        AUDIT_VERIFICATION_CRON="",
        TOKEN_PEPPER="test-pepper",
        PYTHONPATH=str(ROOT),
        **overrides,
    )


async def call_on_queue(temporal: WorkflowEnvironment, calls: list[Call]) -> tuple[list[str], list[str]]:
    """Run `CallOnQueue` for each call (on a worker of the test's own); their results and workflow ids."""
    queue = f"caller-{uuid.uuid4()}"
    ids = [f"call-{uuid.uuid4()}" for _ in calls]
    async with Worker(temporal.client, task_queue=queue, workflows=[CallOnQueue],
                      workflow_runner=UnsandboxedWorkflowRunner()):
        results = await asyncio.gather(*(
            temporal.client.execute_workflow(CallOnQueue.run, call, id=workflow_id, task_queue=queue)
            for call, workflow_id in zip(calls, ids, strict=True)
        ))
    return list(results), ids


async def stop_with_sigterm(launched: Launched, within: float) -> tuple[int, float]:
    """Send SIGTERM; the exit status and the seconds it took (fails if still running `within` seconds later)."""
    launched.popen.send_signal(signal.SIGTERM)
    started = time.monotonic()
    try:
        code = await asyncio.to_thread(launched.popen.wait, within)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {within:.0f}s after SIGTERM; {launched.describe()}")
    return code, time.monotonic() - started


@pytest.mark.long
@pytest.mark.slow
@pytest.mark.parametrize("log_format", ["console", "json"])
async def test_alliance_run_logging_pathological_failures_answers_health_and_stops_on_sigterm(
    tmp_path: Path, temporal_server: WorkflowEnvironment, empty_database: str, mail_sink: MailSink,
    start: Callable[[list[str], dict[str, str]], Launched], log_format: str,
) -> None:
    env = pathological_env(tmp_path, temporal_server, empty_database, mail_sink, LOG_FORMAT=log_format)
    run = start(["run"], env)
    await asyncio.to_thread(wait_healthy, run, env)

    async with httpx.AsyncClient(base_url=api_base(env), timeout=60) as http:
        before = []
        for _ in range(10):
            asked = time.monotonic()
            assert (await http.get("/health")).status_code == 200
            before.append(time.monotonic() - asked)
            await asyncio.sleep(0.1)
    latencies: list[float] = []
    statuses: list[int] = []
    done = asyncio.Event()

    async def watch_health() -> None:
        async with httpx.AsyncClient(base_url=api_base(env), timeout=60) as http:
            while not done.is_set():
                asked = time.monotonic()
                statuses.append((await http.get("/health")).status_code)
                latencies.append(time.monotonic() - asked)
                await asyncio.sleep(0.1)

    watcher = asyncio.create_task(watch_health())
    # 3 cases at once, each failing 3 times: a RecursionError of ~1,000 SQLAlchemy frames behind a 1 MB message
    # (Temporal takes failure messages of about that size; the unit tests above cut 10 MB ones).
    calls = [Call(EXPLODE, 1_000_000, env["TEMPORAL_TASK_QUEUE"], attempts=3) for _ in range(3)]
    started = time.monotonic()
    async with asyncio.timeout(120):
        results, workflow_ids = await call_on_queue(temporal_server, calls)
    failing = time.monotonic() - started
    done.set()
    await watcher

    assert results == ["failed: RuntimeError"] * 3
    assert statuses and set(statuses) == {200}, statuses
    code, stopping = await stop_with_sigterm(run, STOP_BOUND.total_seconds())
    print(f"\n{log_format}: 9 pathological failures in {failing:.1f}s; /health asked {len(latencies)} times "
          f"meanwhile, slowest answer {max(latencies) * 1000:.0f} ms (before: {max(before) * 1000:.0f} ms); "
          f"stopped {stopping:.1f}s after SIGTERM")
    # The activity's own work and the SDK's encoding of the failure take the loop for ~0.1 s a time, on a shared
    # CI core; Rich's rendering took it for minutes.
    assert max(latencies) < HEALTH_SECONDS, latencies
    assert code == 0, run.describe()

    text = run.stderr()
    lines = text.splitlines()
    longest = max(len(line.encode()) for line in lines)
    print(f"{len(text.encode())} bytes of log, longest line {longest} bytes")
    assert longest <= BOUND
    failures = [n for n, line in enumerate(lines) if "Completing activity as failed" in line]
    assert len(failures) == 9, run.describe()
    if log_format == "json":
        logged = [json.loads(lines[n]) for n in failures]
        assert {line["workflow_id"] for line in logged} == set(workflow_ids)  # the context is still there
        assert {(line["activity"], line["attempt"]) for line in logged} == {(EXPLODE, n) for n in (1, 2, 3)}
        exceptions = [line["exception"] for line in logged]
    else:
        assert {re.search(r"workflow_id=(\S+)", lines[n]).group(1) for n in failures} == set(workflow_ids)  # type: ignore[union-attr]
        exceptions = ["\n".join(lines[n : n + 60]) for n in failures]
    for exception in exceptions:
        assert "RecursionError: maximum recursion depth exceeded" in exception
        assert "in visit_binary" in exception and "frames above repeated" in exception
        assert any(int(n) > 900_000 for n in CUT.findall(exception))  # "RuntimeError: candidate query failed: x…"


@pytest.mark.slow
@pytest.mark.parametrize("signals", [1, 2])
async def test_sigterm_stops_a_worker_whose_event_loop_is_busy_within_the_stop_bound(
    tmp_path: Path, temporal_server: WorkflowEnvironment, engine: AsyncEngine, mail_sink: MailSink,
    start: Callable[[list[str], dict[str, str]], Launched], signals: int,
) -> None:
    bound = 4.0
    env = pathological_env(tmp_path, temporal_server, engine.url.render_as_string(hide_password=False), mail_sink,
                           PATHOLOGICAL_STOP_BOUND=str(bound))
    worker = start(["worker"], env)
    deadline = time.monotonic() + 60
    while "worker polling" not in worker.output():
        assert worker.popen.poll() is None and time.monotonic() < deadline, worker.describe()
        await asyncio.sleep(0.1)

    calling = asyncio.create_task(call_on_queue(temporal_server, [Call(HOG, 600, env["TEMPORAL_TASK_QUEUE"])]))
    try:
        while HOGGING not in worker.output():  # the activity holds the worker's event loop from now on
            assert worker.popen.poll() is None and time.monotonic() < deadline, worker.describe()
            await asyncio.sleep(0.1)
        hogging_since = time.monotonic()
        while HELD not in worker.output():  # the loop's watch names what holds it (`app.loop_watch`)
            assert worker.popen.poll() is None and time.monotonic() < deadline, worker.describe()
            await asyncio.sleep(0.1)
        told_after = time.monotonic() - hogging_since
        logged = next(stream for stream in (worker.out.read_text(errors="replace"), worker.stderr()) if HELD in stream)
        told = logged[logged.index(HELD):].split(HOGGING)[0][:STACK_CHARS + 2000]  # that line and what follows it
        if signals == 2:  # Ctrl-C twice: at once
            worker.popen.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.2)
        code, stopping = await stop_with_sigterm(worker, bound + 10)
    finally:
        calling.cancel()
    print(f"\n{signals} SIGTERM: a worker whose loop is busy for 10 minutes exited {code} after {stopping:.1f}s "
          f"(stop bound {bound:.0f}s)")
    assert HELD_WARNING - 0.5 < told_after < HELD_WARNING + 3, told_after
    assert "hog_the_loop" in told, told[:3000]
    err = worker.stderr()
    if signals == 2:
        assert code == 128 + signal.SIGTERM and stopping < 2, worker.describe()
        assert "SIGTERM again; stopping at once" in err
    else:
        assert code == 1 and bound - 0.5 < stopping < bound + 3, worker.describe()
        assert f"not stopped {bound:.0f}s after SIGTERM; exiting now" in err, worker.describe()
        assert re.search(r'File ".*pathological\.py", line \d+ in hog_the_loop', err), err[-3000:]
