"""The embedded PostgreSQL is reached through its Unix-domain socket once it runs (issue 15: a round trip costs
the client about half the CPU of one over TCP), and over TCP while there is no socket to use."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from app.bootstrap import _where
from app.embedded_postgres import connections_for, ensure_database, start_postgres
from infra.db import create_engine
from infra.embedded_database import EMBEDDED_DATABASE
from infra.settings import Settings
from infra.startup import free_port
from tests.helpers.support import PEPPER


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    data_dir, port = tmp_path_factory.mktemp("socket"), free_port()
    process = start_postgres(data_dir, port)
    yield data_dir, port
    process.stop()


async def test_a_running_embedded_postgres_is_reached_through_its_socket(embedded: tuple[Path, int]) -> None:
    data_dir, port = embedded
    await ensure_database(port, EMBEDDED_DATABASE)
    settings = Settings(token_pepper=PEPPER, data_dir=data_dir, embedded_postgres_port=port)
    url = settings.effective_database_url
    assert "127.0.0.1" not in url and f"host={data_dir.resolve() / 'run'}" in url
    assert _where(url).startswith(str(data_dir.resolve() / "run"))
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            # An empty client address is how PostgreSQL says the connection came over a Unix-domain socket.
            assert await conn.scalar(text("SELECT inet_client_addr() IS NULL")) is True
    finally:
        await engine.dispose()


def test_tcp_while_the_data_folder_has_no_socket(embedded: tuple[Path, int], tmp_path: Path) -> None:
    """Another data folder (a worker started elsewhere, say): the server is still found on 127.0.0.1."""
    _, port = embedded
    (tmp_path / "run").mkdir()
    settings = Settings(token_pepper=PEPPER, data_dir=tmp_path, embedded_postgres_port=port)
    assert settings.effective_database_url == f"postgresql+asyncpg://postgres@127.0.0.1:{port}/{EMBEDDED_DATABASE}"


@pytest.mark.parametrize("folder", ["R&D +%41 x", "d" * 90, "あ" * 30])
async def test_a_data_folder_of_any_name_or_length_starts_and_is_reached(folder: str) -> None:
    """`&`, `+`, `%` and spaces in the folder are no URL syntax; a folder too deep for a Unix-domain socket (Linux
    takes 107 bytes: 30 hiragana are 30 characters but 90 bytes) starts PostgreSQL on TCP alone, and the product
    reaches it there. Under a short folder of /tmp, so the path's length is the folder name's doing."""
    short = Path(tempfile.mkdtemp(prefix="pg", dir="/tmp"))
    data_dir, port = short / folder, free_port()
    data_dir.mkdir()
    process = start_postgres(data_dir, port)
    try:
        await ensure_database(port, EMBEDDED_DATABASE)
        settings = Settings(token_pepper=PEPPER, data_dir=data_dir, embedded_postgres_port=port)
        engine = create_engine(settings)
        try:
            async with engine.connect() as conn:
                over_socket = await conn.scalar(text("SELECT inet_client_addr() IS NULL"))
        finally:
            await engine.dispose()
        fits = len(os.fsencode(data_dir.resolve() / "run" / f".s.PGSQL.{port}")) <= 107  # Linux's sun_path
        assert over_socket is fits
    finally:
        process.stop()
        shutil.rmtree(short, ignore_errors=True)


async def test_the_embedded_postgres_takes_every_connection_the_products_processes_may_open(tmp_path: Path) -> None:
    """`alliance run` with 16 workers (RUN_WORKERS' most) and the API, each with DB_POOL_SIZE + DB_MAX_OVERFLOW =
    20 connections, may open 340: the server it starts takes them, and a few more for commands beside it (with
    the fixed 200 of before, the tenth worker's connections were refused)."""
    needed = connections_for(17, 20)
    assert needed >= 17 * 20 + 3  # and the superuser's reserved slots
    assert connections_for(2, 20) == 200  # a small product keeps the default
    port = free_port()
    process = start_postgres(tmp_path, port, needed)
    try:
        await ensure_database(port, EMBEDDED_DATABASE)
        settings = Settings(token_pepper=PEPPER, data_dir=tmp_path, embedded_postgres_port=port)
        engine = create_engine(settings)
        try:
            async with engine.connect() as conn:
                shown = (await conn.execute(text("SHOW max_connections"))).scalar_one()
        finally:
            await engine.dispose()
    finally:
        process.stop()
    assert int(shown) == needed
