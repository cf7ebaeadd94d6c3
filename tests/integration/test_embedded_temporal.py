"""The embedded Temporal dev server starts even when it loses a race for one of the ports it picks itself.

The dev server asks the kernel for five free ports, closes them and binds them again; on a busy machine another
process can take one in between (seen in CI: the second `alliance run` of the smoke test stopped with "temporal
exited during start-up"). The binary is not ours, so its failure is played by a wrapper that fails the way the
server does once and then runs the real server.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from app import embedded_temporal
from app.embedded_temporal import start_temporal, temporal_binary
from infra.startup import StartupError, free_port

pytestmark = pytest.mark.slow

FAILS_ONCE = """#!/bin/sh
if [ ! -e "{marker}" ]; then
  touch "{marker}"
  echo 'Unable to start server. Error: listen tcp 127.0.0.1:41873: bind: address already in use'
  exit 1
fi
exec "{real}" "$@"
"""

ALWAYS_FAILS = """#!/bin/sh
echo started >> "{marker}"
echo 'Unable to start server. Error: sqlite: database disk image is malformed'
exit 1
"""


def wrapper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> Path:
    marker = tmp_path / "tries"
    binary = tmp_path / "temporal"
    binary.write_text(script.format(marker=marker, real=temporal_binary()))
    binary.chmod(0o755)
    monkeypatch.setattr(embedded_temporal, "temporal_binary", lambda: str(binary))
    return marker


def test_a_start_that_lost_a_port_race_is_tried_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wrapper(tmp_path, monkeypatch, FAILS_ONCE)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    port, ui_port = free_port(), free_port()
    process = start_temporal(data_dir, port, ui_port, "default")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        assert "address already in use" in (data_dir / "temporal.log").read_text()
    finally:
        process.stop()
    assert process.popen.returncode is not None


def test_any_other_early_exit_is_reported_at_the_first_try(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = wrapper(tmp_path, monkeypatch, ALWAYS_FAILS)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with pytest.raises(StartupError, match=r"temporal exited during start-up: .*disk image is malformed; see "):
        start_temporal(data_dir, free_port(), free_port(), "default")
    assert marker.read_text().splitlines() == ["started"]
