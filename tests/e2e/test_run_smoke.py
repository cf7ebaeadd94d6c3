"""`alliance run` as a person runs it: a real subprocess on the embedded PostgreSQL and Temporal.

What a user checks by hand: it starts, /health is green, the Temporal UI answers, the demo tokens are
printed, a case can be filed, SIGTERM and Ctrl-C stop it with exit status 0 and nothing left running,
and the case is still there after a restart; `alliance users add` in a second terminal gives a token
the running API accepts; and a bad configuration stops start-up with one clear line, not a traceback.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import httpx
import psutil
import pytest

from infra.startup import free_port
from tests.helpers.product import (
    ALLIANCE,
    Launched,
    Launcher,
    api_base,
    auth,
    eventually,
    kill,
    processes_using,
    product_env,
    stop_and_check_nothing_is_left,
    wait_demo_tokens,
    wait_healthy,
)
from tests.helpers.support import filing

pytestmark = pytest.mark.slow

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


def worker_processes(launched: Launched) -> list[psutil.Process]:
    """The case workers `alliance run` started (`python -m app.cli worker`), alive now."""
    found = []
    for proc in launched.tree():
        with suppress(psutil.Error):
            if proc.cmdline()[-3:] == ["-m", "app.cli", "worker"] and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
    return found


def test_run_keeps_its_workers_in_processes_of_their_own_and_starts_one_again_when_it_dies(
    tmp_path: Path, launch: Launcher
) -> None:
    """Issue 15: the API and each case worker (`RUN_WORKERS` of them) get a process of their own, so a core each;
    a worker killed outright is started again, and the product goes on taking cases; stopping the product stops
    the workers too."""
    env = product_env(tmp_path, RUN_WORKERS="2")
    launched = launch(["run"], env, "run")
    wait_healthy(launched, env)
    tokens = wait_demo_tokens(launched)
    first, other = eventually(lambda: worker_processes(launched) if len(worker_processes(launched)) == 2 else None,
                              30, "two case worker processes", launched)
    assert launched.popen.pid not in (first.pid, other.pid)

    first.kill()
    [again] = eventually(
        lambda: [p for p in worker_processes(launched) if p.pid not in (first.pid, other.pid)] or None, 30,
        "the killed case worker started again", launched)
    assert "starting it again" in launched.output(), launched.describe()
    assert other.is_running() and other.status() != psutil.STATUS_ZOMBIE  # the other one went on
    with httpx.Client(base_url=api_base(env), timeout=60) as http:
        created = http.post("/api/cases", json=filing(), headers=auth(tokens["applicant"]))
    assert created.status_code == 201, created.text

    stop_and_check_nothing_is_left(launched, "SIGINT", Path(env["DATA_DIR"]))
    for worker in (again, other):
        assert not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE


def test_run_starts_again_even_the_last_of_more_workers_than_the_default_thread_pool_has_threads(
    tmp_path: Path, launch: Launcher
) -> None:
    """Issue 15: every one of `RUN_WORKERS` case workers is watched, however many there are. Each was watched by a
    thread of asyncio's default pool (min(32, cores + 4) threads) blocked in wait(): past that number the last
    ones were watched by nobody, and one killed stayed dead."""
    count = min(16, (os.cpu_count() or 1) + 5)
    env = product_env(tmp_path, RUN_WORKERS=str(count))
    launched = launch(["run"], env, "run")
    wait_healthy(launched, env)
    started = eventually(lambda: worker_processes(launched) if len(worker_processes(launched)) == count else None,
                         60, f"{count} case worker processes", launched)
    last = max(started, key=lambda p: (p.create_time(), p.pid))

    last.kill()
    eventually(lambda: [p for p in worker_processes(launched) if p not in started] or None, 30,
               "the last case worker started again", launched)
    assert "starting it again" in launched.output(), launched.describe()

    stop_and_check_nothing_is_left(launched, "SIGINT", Path(env["DATA_DIR"]))


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
        taken = launch(["run"], env, "port-taken")
        code = taken.wait(60)
    assert code != 0, taken.describe()
    stderr = taken.stderr()
    assert "error:" in stderr and env["API_PORT"] in stderr and "API_PORT" in stderr, taken.describe()
    assert "Traceback" not in taken.output(), taken.describe()
    # Refused before anything was started (how soon is not a wall-clock bound: CI once took 15.9 s at load 9).
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


@pytest.mark.parametrize("pepper", ["", "x", "dev-pepper-change-me "])
def test_production_refuses_a_weak_pepper_in_one_line_before_starting_anything(
    tmp_path: Path, launch: Launcher, pepper: str
) -> None:
    """Issue 19, seen 4: `ENVIRONMENT=production` with a guessable pepper starts nothing."""
    env = product_env(tmp_path, ENVIRONMENT="production", TOKEN_PEPPER=pepper, AUDIT_SIGNING_KEY=secrets.token_hex(32))
    for command in (["run"], ["api"], ["users", "add", "--name", "x", "--role", "auditor"]):
        refused = launch(command, env, command[0])
        assert refused.wait(60) == 1, refused.describe()
        lines = refused.stderr().strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: TOKEN_PEPPER "), refused.describe()
        assert refused.out.read_text() == "", refused.describe()
    # Refused before anything was started (how soon is not a wall-clock bound: CI once took 15.9 s at load 9).
    assert not Path(env["DATA_DIR"]).exists(), "nothing should have been started or created"


def test_production_has_no_demo_users_no_demo_sign_in_and_no_mail_page(tmp_path: Path, launch: Launcher) -> None:
    """Issue 19, seen 4: in production `alliance run` creates and prints no demo token, the console offers no
    demo sign-in, `/mail` does not exist, and `alliance demo` refuses in one line."""
    env = product_env(tmp_path, ENVIRONMENT="production", TOKEN_PEPPER=secrets.token_hex(32),
                      AUDIT_SIGNING_KEY=secrets.token_hex(32))
    run = launch(["run"], env, "run")
    wait_healthy(run, env)
    eventually(lambda: "Case Desk is running" in run.output(), 15, "the ready line", run)
    assert "demo-" not in run.output() and "Demo users" not in run.output(), run.describe()

    add = launch(["users", "add", "--name", "x", "--role", "coordinator", "--org", "jetro"], env, "users-add")
    assert add.wait(60) == 0, add.describe()
    token = add.out.read_text().strip().splitlines()[-1]
    listed = launch(["users", "list"], env, "users-list")
    assert listed.wait(60) == 0, listed.describe()
    assert "demo" not in listed.output().lower() and "acme" not in listed.output().lower(), listed.describe()
    with httpx.Client(base_url=api_base(env), timeout=30) as http:
        signin = http.get("/signin")
        assert signin.status_code == 200 and 'value="demo-' not in signin.text
        assert http.get("/api/cases", headers=auth(token)).status_code == 200
        http.cookies.set("casedesk_session", token)
        assert http.get("/work").status_code == 200
        assert http.get("/mail").status_code == 404
        assert 'href="/mail"' not in http.get("/work").text

    demo = launch(["demo"], env, "demo")
    assert demo.wait(60) == 1, demo.describe()
    lines = demo.stderr().strip().splitlines()
    assert len(lines) == 1 and "development only" in lines[0], demo.describe()

    stop_and_check_nothing_is_left(run, "SIGTERM", Path(env["DATA_DIR"]))
