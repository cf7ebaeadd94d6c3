"""Child processes that die with us: started with PR_SET_PDEATHSIG, stopped politely, then firmly."""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.startup import StartupError

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a child just forked: receive SIGTERM when the thread that started it ends (its parent dying)."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def wait_for_port(host: str, port: int, timeout: float, process: ChildProcess) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise StartupError(f"{process.name} exited during start-up{process.last_words()}; see {process.log_path}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise StartupError(f"{process.name} did not answer on {host}:{port} within {timeout:.0f}s; see {process.log_path}")


@dataclass
class ChildProcess:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    stop_signal: int = signal.SIGTERM

    @classmethod
    def start(
        cls,
        name: str,
        args: Sequence[str],
        log_path: Path,
        *,
        user: str | None = None,
        stop_signal: int = signal.SIGTERM,
        env: dict[str, str] | None = None,
    ) -> ChildProcess:
        log = log_path.open("ab")
        try:
            popen = subprocess.Popen(
                list(args),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                user=user,
                preexec_fn=die_with_parent,
                env=env,
                start_new_session=True,
            )
        finally:
            log.close()
        return cls(name, popen, log_path, stop_signal)

    def last_words(self, limit: int = 300) -> str:
        """': ' and the last line the process wrote to its log (at most `limit` characters), or '' if none."""
        with contextlib.suppress(OSError), self.log_path.open("rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - 4096))
            lines = [line.strip() for line in log.read().decode("utf-8", "replace").splitlines() if line.strip()]
            if lines:
                return ": " + lines[-1][:limit]
        return ""

    def stop(self, timeout: float = 15.0) -> None:
        if self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.popen.send_signal(self.stop_signal)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)


def service_user(name: str) -> str | None:
    """The unprivileged user a server runs as when we are root (PostgreSQL refuses to run as root)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", name], check=True, capture_output=True)
    return name
