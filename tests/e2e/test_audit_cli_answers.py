"""What `alliance audit` answers when what it is given is off: an unknown case, a damaged checkpoint log, a pack
that does not hold — each a clear line and an exit status, never a pass or a traceback."""

from __future__ import annotations

import uuid
import warnings
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.exc import SADeprecationWarning
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.checkpoints import take_checkpoint
from infra.settings import Settings
from infra.stored_checkpoints import latest_anchors
from tests.helpers.audit_cli import alliance, as_table_owner
from tests.helpers.desk import Desk
from tests.helpers.people import APPLICANT


async def test_verifying_an_unknown_case_says_so_and_fails(
    desk: Desk, engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    unknown = str(uuid.uuid4())
    answer = await alliance(engine, settings, tmp_path / "checkpoints.log", "audit", "verify", "--case", unknown)
    assert answer.returncode == 2, answer.stderr
    assert f"unknown case {unknown}" in answer.stderr and "verified" not in answer.stderr

    case = await desk.file(APPLICANT)  # on record, but every event removed by the table's owner
    await as_table_owner(engine, "DELETE FROM audit_events WHERE case_id = :id", id=case["id"])
    emptied = await alliance(engine, settings, tmp_path / "checkpoints.log", "audit", "verify", "--case", case["id"])
    assert emptied.returncode == 1, emptied.stderr
    assert f"broken {case['id']}: event 1: the case is on record, but its trail holds no event" in emptied.stderr


async def test_a_line_of_the_checkpoint_log_that_is_not_utf8_is_reported_by_number(
    desk: Desk, engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    await desk.file(APPLICANT)
    log = tmp_path / "checkpoints.log"
    assert (await alliance(engine, settings, log, "audit", "checkpoint")).returncode == 0
    with log.open("ab") as file:
        file.write(b'{"id": 7, "root": "\xff\xfe"}\n')
    answer = await alliance(engine, settings, log, "audit", "verify")
    assert answer.returncode == 1
    assert "failed unexpectedly" not in answer.stderr and "Traceback" not in answer.stderr
    assert f"{log} line 2: damaged: not UTF-8 (byte 20 of the line)" in answer.stderr.replace("\n", "")


async def test_check_pack_answers_on_standard_output(engine: AsyncEngine, settings: Settings,
                                                     tmp_path: Path) -> None:
    not_a_pack = tmp_path / "pack.zip"
    not_a_pack.write_bytes(b"PK but not a ZIP")
    answer = await alliance(engine, settings, tmp_path / "log", "audit", "check-pack", str(not_a_pack))
    assert answer.returncode == 1
    assert answer.stdout.startswith(f"FAILED {not_a_pack}: not a readable ZIP") and answer.stderr == ""


async def test_checkpoints_build_their_queries_without_deprecated_calls(engine: AsyncEngine,
                                                                        settings: Settings) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", SADeprecationWarning)
        await take_checkpoint(engine, settings.audit_keys, None, datetime.now(UTC))
        await latest_anchors(engine, settings.audit_keys.keyring)


async def test_a_checkpoint_log_that_cannot_be_read_is_said_in_one_line(
    desk: Desk, engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    """`alliance audit verify` read the checkpoint log allowing only for its absence: a log it may not read (its path a
    folder, as a mistyped AUDIT_CHECKPOINT_LOG gives) ended it with "failed unexpectedly" and a traceback, after it
    had verified every chain. It says the log cannot be read, as a contradiction it cannot rule out, and exits 1."""
    await desk.file(APPLICANT)
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    answer = await alliance(engine, settings, folder, "audit", "verify")
    said = " ".join((answer.stdout + answer.stderr).split())
    assert answer.returncode == 1 and "Traceback" not in said and "unexpectedly" not in said, said[-2000:]
    assert f"checkpoint log {folder} cannot be read (Is a directory)" in said and "case(s) verified" in said, said
