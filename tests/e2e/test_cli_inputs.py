"""The command line takes files as they arrive and reports a bad input or a bad file in one line, exit status
non-zero, never a traceback (issue 18 items 4 and 5): run as a person runs it, a real `alliance` process
against the tests' PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from domain.corporate_number import with_check_digit
from domain.sme_registry import COLUMNS
from infra.tables import smes, users
from tests.helpers.cli import alliance

pytestmark = pytest.mark.slow


def registry_csv(number: str, name: str) -> str:
    row = {"corporate_number": number, "name": name, "name_ja": "髙橋精密工業①", "prefecture": "愛知",
           "city": "刈谷市", "industries": "E", "employees": "１２０", "capital_jpy": '"90,000,000"',
           "founded": "1970", "technologies": "精密加工; sensors", "certifications": "ISO 9001",
           "overseas_interest": "", "consent": "yes", "updated": ""}
    return "\r\n".join([",".join(COLUMNS), ",".join(row[c] for c in COLUMNS)]) + "\r\n"


async def test_a_registry_saved_by_excel_in_japan_is_imported_from_the_command_line(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    number = with_check_digit(f"9950{uuid.uuid4().int % 10**8:08d}")
    file = tmp_path / "registry.csv"
    file.write_bytes(registry_csv(number, f"Cli {uuid.uuid4().hex[:8]}").encode("cp932"))
    for declared in ([], ["--encoding", "shift_jis"]):
        done = alliance(engine, "smes", "import", str(file), *declared)
        assert done.returncode == 0, done.stderr
        assert "1 SME(s) added" in done.stderr or "1 updated" in done.stderr
    async with engine.connect() as conn:
        row = (await conn.execute(select(smes.c.name_ja, smes.c.prefecture, smes.c.employees, smes.c.capital_jpy)
                                  .where(smes.c.id == number))).one()
    assert tuple(row) == ("髙橋精密工業①", "Aichi", 120, 90_000_000)


async def test_a_file_in_another_encoding_is_one_line_and_exit_status_1(engine: AsyncEngine, tmp_path: Path) -> None:
    number = with_check_digit(f"9951{uuid.uuid4().int % 10**8:08d}")
    file = tmp_path / "registry.csv"
    file.write_bytes(registry_csv(number, "Cli").encode("cp932"))
    done = alliance(engine, "smes", "import", str(file), "--encoding", "utf-8")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "line 2" in lines[0] and "UTF-8" in lines[0] and "Traceback" not in done.stderr
    file.write_bytes(registry_csv(number, "Cli").encode("utf-16"))
    done = alliance(engine, "smes", "import", str(file))
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1, done.stderr


async def test_a_user_name_with_a_line_break_is_refused_and_nobody_is_added(engine: AsyncEngine) -> None:
    name = f"Saburo {uuid.uuid4().hex[:6]}"
    for args in (["--name", f"{name}\r\nBcc: someone@attacker.example"],
                 ["--name", name, "--email", "jürgen@acme.example"],
                 ["--name", name, "--email", "not an address"]):
        done = alliance(engine, "users", "add", "--role", "coordinator", *args)
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    async with engine.connect() as conn:
        assert (await conn.execute(select(users.c.id).where(users.c.name.startswith(name)))).all() == []


@pytest.mark.parametrize(
    "args", [["users", "revoke", "not-an-id"], ["audit", "verify", "--case", "x'; DROP TABLE cases"],
             ["incidents", "retry", "１２３"]],
)
async def test_an_id_that_is_none_is_one_line_and_exit_status_2(engine: AsyncEngine, args: list[str]) -> None:
    done = alliance(engine, *args)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "is not a" in done.stderr


async def test_retrying_a_case_nobody_knows_is_one_line_and_exit_status_2(
    engine: AsyncEngine, dev_server: WorkflowEnvironment
) -> None:
    """An operator who mistyped a case's id is told so, not "asked case … to retry; 0 incident(s) resolved"."""
    unknown = str(uuid.uuid4())
    done = alliance(engine, "incidents", "retry", unknown, temporal=dev_server.client.service_client.config.target_host)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [f"error: unknown case {unknown}: no case or open incident has that id"]


async def test_seed_smes_says_how_many_it_added_and_whether_it_rebuilt_the_indexes(registry: AsyncEngine) -> None:
    """The summary counts what was added, not what was asked for, and names the index rebuild only when there was
    one (a seed smaller than the registry keeps its indexes)."""
    first = alliance(registry, "seed-smes", "--count", "300")
    assert first.returncode == 0, first.stderr
    assert "300 SME(s) added (0 were there already)" in first.stderr, first.stderr
    assert "added a second, the indexes' rebuild included" in first.stderr, first.stderr
    again = alliance(registry, "seed-smes", "--count", "200")  # the same seed: the first 200 of those 300
    assert again.returncode == 0, again.stderr
    assert "0 SME(s) added (200 were there already)" in again.stderr, again.stderr
    assert "(0 added a second)" in again.stderr and "rebuild" not in again.stderr, again.stderr
