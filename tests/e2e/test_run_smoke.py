"""`alliance run` as a person runs it: a real subprocess on the embedded PostgreSQL and Temporal.

What a user checks by hand: it starts, /health is green, the Temporal UI answers, the demo tokens are
printed, a case can be filed, SIGTERM and Ctrl-C stop it with exit status 0 and nothing left running,
and the case is still there after a restart; `alliance users add` in a second terminal gives a token
the running API accepts; and a bad configuration stops start-up with one clear line, not a traceback.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from infra.settings import Settings
from infra.startup import free_port
from tests.helpers.support import filing

pytestmark = pytest.mark.slow

ALLIANCE = Path(sys.executable).parent / "alliance"
START_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0
# Settings are read case-insensitively; none may leak in from the environment running the tests.
SETTINGS_NAMES = {name.upper() for name in Settings.model_fields}
NOT_INHERITED = {*SETTINGS_NAMES, "TEST_DATABASE_URL", "COLUMNS", "LINES", "FORCE_COLOR"}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def product_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The inherited environment without any product setting, plus a data folder and free ports."""
    env = {key: value for key, value in os.environ.items() if key.upper() not in NOT_INHERITED}
    env.update(
        DATA_DIR=str(tmp_path / "data"),
        API_PORT=str(free_port()),
        TEMPORAL_PORT=str(free_port()),
        TEMPORAL_UI_PORT=str(free_port()),
        EMBEDDED_POSTGRES_PORT=str(free_port()),
        SMTP_PORT=str(free_port()),
    )
    env.update(overrides)
    return env


def api_base(env: dict[str, str]) -> str:
    return f"http://127.0.0.1:{env['API_PORT']}"


@dataclass
class Launched:
    """One `alliance` command in its own session, its output in files (never pipes)."""

    label: str
    popen: subprocess.Popen[bytes]
    out: Path
    err: Path
    seen: list[psutil.Process] = field(default_factory=list)

    def output(self) -> str:
        return self.out.read_text(errors="replace") + self.err.read_text(errors="replace")

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def describe(self) -> str:
        return f"`alliance` ({self.label}, exit {self.popen.poll()}) printed:\n{self.output()[-4000:]}"

    def tree(self) -> list[psutil.Process]:
        """The process and all its descendants now; remembered so teardown can kill them."""
        root = psutil.Process(self.popen.pid)
        procs: list[psutil.Process] = [root, *root.children(recursive=True)]
        self.seen.extend(p for p in procs if p not in self.seen)
        return procs

    def wait(self, timeout: float) -> int:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {timeout:.0f}s later; {self.describe()}")


Launcher = Callable[[list[str], dict[str, str], str], Launched]


def running(procs: list[psutil.Process]) -> list[psutil.Process]:
    """Those still running: not gone, not a zombie, and not a new process that got the same PID."""
    alive = []
    for proc in procs:
        with suppress(psutil.NoSuchProcess):
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
    return alive


def processes_using(data_dir: Path) -> list[str]:
    """Command lines of running processes that name the data folder (postgres -D …, temporal --db-filename …)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline: list[str] = proc.info["cmdline"] or []
        if proc.info["status"] != psutil.STATUS_ZOMBIE and any(str(data_dir) in part for part in cmdline):
            found.append(" ".join(cmdline))
    return found


def kill(launched: Launched) -> None:
    """Teardown: politely, then firmly, the process group and every descendant ever seen."""
    with suppress(psutil.Error):
        launched.tree()
    if launched.popen.poll() is None:
        with suppress(ProcessLookupError):
            launched.popen.send_signal(signal.SIGTERM)
        try:
            launched.popen.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(launched.popen.pid, signal.SIGKILL)
            launched.popen.wait(10)
    leftovers = running(launched.seen)
    for proc in leftovers:
        with suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(leftovers, timeout=10)


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launcher]:
    """Start `alliance <args>`; whatever is still running at the end of the test is stopped."""
    started: list[Launched] = []

    def start(args: list[str], env: dict[str, str], label: str) -> Launched:
        out, err = tmp_path / f"{label}.stdout", tmp_path / f"{label}.stderr"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            popen = subprocess.Popen(
                [str(ALLIANCE), *args], stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL, env=env,
                cwd=tmp_path,  # no `.env` of the repository is read
                start_new_session=True,
            )
        launched = Launched(label, popen, out, err)
        started.append(launched)
        return launched

    yield start
    for launched in reversed(started):
        kill(launched)


def eventually(check: Callable[[], Any], timeout: float, what: str, launched: Launched) -> Any:
    """Poll `check` until it returns something truthy; fail early if the product exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if launched.popen.poll() is not None:
            pytest.fail(f"exited while waiting for {what}; {launched.describe()}")
        result = check()
        if result:
            return result
        time.sleep(0.2)
    pytest.fail(f"no {what} within {timeout:.0f}s; {launched.describe()}")


def wait_healthy(launched: Launched, env: dict[str, str]) -> dict[str, Any]:
    def health() -> dict[str, Any] | None:
        try:
            response = httpx.get(f"{api_base(env)}/health", timeout=5)
        except httpx.TransportError:
            return None
        if response.status_code != 200:
            return None
        body: dict[str, Any] = response.json()
        return body

    body: dict[str, Any] = eventually(health, START_TIMEOUT, "healthy /health", launched)
    return body


def demo_token(text: str, role: str) -> str | None:
    """The token on the demo-users line of `role`, as printed at start-up."""
    for line in text.splitlines():
        match = re.search(rf"(?<!\S)demo-{role}-[0-9a-f]+(?!\S)", line)
        if match and re.search(rf"\b{role}\b", line.replace(match.group(0), "")):
            return match.group(0)
    return None


def wait_demo_tokens(launched: Launched) -> dict[str, str]:
    def tokens() -> dict[str, str] | None:
        text = launched.output()
        found = {role: demo_token(text, role) for role in ("applicant", "coordinator")}
        if "Case Desk is running" not in text or None in found.values():
            return None
        return {role: token for role, token in found.items() if token is not None}

    result: dict[str, str] = eventually(tokens, 15, "demo tokens in the output", launched)
    return result


def stop_and_check_nothing_is_left(launched: Launched, how: str, data_dir: Path) -> None:
    procs = launched.tree()
    names = " ".join(p.name() for p in procs)
    assert "postgres" in names and "temporal" in names, f"expected the embedded servers among {names}"
    if how == "SIGTERM":
        launched.popen.send_signal(signal.SIGTERM)
    else:  # Ctrl-C: the terminal signals the whole foreground process group
        os.killpg(launched.popen.pid, signal.SIGINT)
    code = launched.wait(STOP_TIMEOUT)
    assert code == 0, f"exit status {code} after {how}; {launched.describe()}"
    left = [f"{p.pid} {p.name()}" for p in running(procs)]
    assert not left, f"still running after {how}: {left}; {launched.describe()}"
    assert not processes_using(data_dir)
    assert "Traceback" not in launched.output(), launched.describe()
    assert "stopped: postgres, temporal" in launched.stderr(), launched.describe()


def test_run_starts_answers_health_and_stops_clean_then_finds_the_case_again(
    tmp_path: Path, launch: Launcher
) -> None:
    env = product_env(tmp_path)
    data_dir = Path(env["DATA_DIR"])

    first = launch(["run"], env, "first-run")
    health = wait_healthy(first, env)
    assert health["database"] == "up" and health["temporal"] == "up", health

    def ui_answers() -> bool:
        with suppress(httpx.TransportError):
            return httpx.get(f"http://127.0.0.1:{env['TEMPORAL_UI_PORT']}/", timeout=5).status_code == 200
        return False

    eventually(ui_answers, 30, "Temporal UI on TEMPORAL_UI_PORT", first)

    tokens = wait_demo_tokens(first)
    assert tokens["applicant"].startswith("demo-applicant-")
    assert tokens["coordinator"].startswith("demo-coordinator-")
    with httpx.Client(base_url=api_base(env), timeout=30) as http:
        created = http.post("/api/cases", json=filing(), headers=auth(tokens["applicant"]))
        assert created.status_code == 201, created.text
        case = created.json()
        assert case["reference"].startswith("GA-"), case
        assert http.get("/api/cases", headers=auth(tokens["coordinator"])).status_code == 200

    stop_and_check_nothing_is_left(first, "SIGTERM", data_dir)

    second = launch(["run"], env, "second-run")
    wait_healthy(second, env)
    assert wait_demo_tokens(second) == tokens, "demo tokens should be the same at every start"
    with httpx.Client(base_url=api_base(env), timeout=30) as http:
        read = http.get(f"/api/cases/{case['id']}", headers=auth(tokens["applicant"]))
    assert read.status_code == 200, read.text
    assert read.json()["reference"] == case["reference"]

    stop_and_check_nothing_is_left(second, "SIGINT", data_dir)


def test_users_add_and_demo_in_a_second_terminal_work_against_the_running_product(
    tmp_path: Path, launch: Launcher
) -> None:
    env = product_env(tmp_path)
    run = launch(["run"], env, "run")
    wait_healthy(run, env)

    add = launch(["users", "add", "--name", "x", "--role", "coordinator", "--org", "jetro"], env, "users-add")
    assert add.wait(60) == 0, add.describe()
    token = add.out.read_text().strip().splitlines()[-1]
    assert token and not token.startswith("demo-"), add.describe()

    with httpx.Client(base_url=api_base(env), timeout=30) as http:
        assert http.get("/api/cases", headers=auth("not-a-token")).status_code == 401
        listed = http.get("/api/cases", headers=auth(token))
    assert listed.status_code == 200, listed.text

    demo = launch(["demo"], env, "demo")
    assert demo.wait(120) == 0, demo.describe()
    shown = demo.output()
    assert "approve_investment" in shown and "alliance_formed_with_fund" in shown, shown
    assert "audit chain: intact" in shown, shown

    stop_and_check_nothing_is_left(run, "SIGTERM", Path(env["DATA_DIR"]))


def unreachable_configuration(tmp_path: Path) -> dict[str, str]:
    return product_env(
        tmp_path,
        DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:1/x",
        TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}",
    )


def test_bad_configuration_stops_startup_with_one_clear_line(tmp_path: Path, launch: Launcher) -> None:
    # (a) an unreachable database (and Temporal): a one-line error naming the database, exit status ≠ 0.
    bad = launch(["run"], unreachable_configuration(tmp_path / "a"), "unreachable")
    assert bad.wait(60) != 0, bad.describe()
    stderr = bad.stderr()
    assert "Traceback" not in bad.output(), bad.describe()
    first = next((line for line in stderr.splitlines() if "error:" in line), "")
    assert "database" in first and "127.0.0.1:1" in first, bad.describe()

    # (b) the API port taken: refused before anything is started.
    env = product_env(tmp_path / "b")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", int(env["API_PORT"])))
        holder.listen()
        started = time.monotonic()
        taken = launch(["run"], env, "port-taken")
        code = taken.wait(30)
        elapsed = time.monotonic() - started
    assert code != 0, taken.describe()
    assert elapsed < 15, f"took {elapsed:.1f}s to notice the taken port; {taken.describe()}"
    stderr = taken.stderr()
    assert "error:" in stderr and env["API_PORT"] in stderr and "API_PORT" in stderr, taken.describe()
    assert "Traceback" not in taken.output(), taken.describe()
    assert not Path(env["DATA_DIR"]).exists(), "nothing should have been started or created"
    assert not processes_using(Path(env["DATA_DIR"]))
    for name in ("EMBEDDED_POSTGRES_PORT", "TEMPORAL_PORT", "TEMPORAL_UI_PORT"):
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", int(env[name]))) != 0, f"something listens on {name}"


def test_a_startup_error_stays_one_line_in_a_log_file(tmp_path: Path, launch: Launcher) -> None:
    bad = launch(["run"], unreachable_configuration(tmp_path), "unreachable")
    assert bad.wait(60) != 0, bad.describe()
    lines = bad.stderr().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), lines
