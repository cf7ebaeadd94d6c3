"""How the embedded PostgreSQL is reached: its database, through its Unix-domain socket when Linux can bind the
socket's path, else over TCP on 127.0.0.1."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

EMBEDDED_DATABASE = "alliance"
UNIX_SOCKET_PATH_MAX = 107  # bytes in a Unix-domain socket's path on Linux (sun_path less its NUL)


def socket_path_fits(socket: Path) -> bool:
    """Whether Linux can bind a Unix-domain socket at `socket`: its path is counted in bytes, not characters (60
    hiragana are 180 bytes)."""
    return len(os.fsencode(socket)) <= UNIX_SOCKET_PATH_MAX


def embedded_postgres_url(data_dir: Path, port: int, database: str) -> str:
    """The embedded PostgreSQL keeping its data in `data_dir`: through its Unix-domain socket in `data_dir/run` once
    it is running there (each round trip costs the client about half the CPU of one over TCP on 127.0.0.1; issue
    15), else over TCP."""
    socket_dir = data_dir.resolve() / "run"
    socket = socket_dir / f".s.PGSQL.{port}"
    if socket_path_fits(socket) and socket.is_socket():
        # The folder is a query value: `&`, `+`, `%` or a space in it must not be read as URL syntax.
        return f"postgresql+asyncpg://postgres@/{database}?host={quote(str(socket_dir), safe='/')}&port={port}"
    return f"postgresql+asyncpg://postgres@127.0.0.1:{port}/{database}"
