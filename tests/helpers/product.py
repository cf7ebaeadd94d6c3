"""Running the real `alliance` command in tests: its environment, launching and stopping it, waiting for it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from infra.settings import Settings
from infra.startup import free_port

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

    result: dict[str, str] = eventually(tokens, 60, "demo tokens in the output", launched)
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
    # the last line names everything that stopped
    assert re.search(r"stopped: the API, \d+ case workers?, (the mail sink, )?postgres, temporal\n",
                     launched.stderr()), launched.describe()
