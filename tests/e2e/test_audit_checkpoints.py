"""Anchored heads: after `alliance audit checkpoint`, a trail cut short by the table's owner no longer verifies."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.settings import Settings
from tests.helpers.audit_cli import alliance, as_table_owner
from tests.helpers.desk import Desk
from tests.helpers.people import APPLICANT, AUDITOR, COORDINATOR
from tests.helpers.scenarios import to_matching


async def test_a_tail_deleted_after_a_checkpoint_is_found_naming_the_checkpoint(
    desk: Desk, engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    case = await to_matching(desk)
    log = tmp_path / "checkpoints.log"
    taken = await alliance(engine, settings, log, "audit", "checkpoint")
    assert taken.returncode == 0, taken.stderr
    (line,) = log.read_text().splitlines()
    checkpoint = json.loads(line)
    assert checkpoint["cases"] >= 1 and len(checkpoint["signature"]) == 128
    assert f"checkpoint {checkpoint['id']} of" in taken.stderr  # the console writes to stderr

    await desk.ok(case, "add_note", COORDINATOR, text="after the checkpoint")  # growing is fine
    assert (await desk.verify(case["id"], AUDITOR))["valid"]

    await as_table_owner(engine, "DELETE FROM audit_events WHERE case_id = :id AND seq >= 3", id=case["id"])

    report = await desk.verify(case["id"], AUDITOR)
    assert (report["valid"], report["first_broken_seq"]) == (False, 3)
    assert report["checkpoint"].startswith(f"checkpoint {checkpoint['id']} of")
    assert "events were removed" in report["reason"]

    every = await alliance(engine, settings, log, "audit", "verify")
    assert every.returncode == 1
    assert f"broken {case['id']}: event 3: the trail ends at event 2" in every.stderr


async def test_checkpoints_are_append_only_and_chained(
    desk: Desk, engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    await desk.file(APPLICANT)
    log = tmp_path / "checkpoints.log"
    for _ in range(2):
        assert (await alliance(engine, settings, log, "audit", "checkpoint")).returncode == 0
    first, second = (json.loads(line) for line in log.read_text().splitlines())
    assert (second["id"], second["prev"]) == (first["id"] + 1, first["digest"])
    async with engine.connect() as conn:
        for statement in ("DELETE FROM audit_checkpoints", "UPDATE audit_checkpoint_heads SET seq = 1",
                          "TRUNCATE audit_checkpoint_heads"):
            refused = None
            try:
                async with conn.begin():
                    await conn.execute(text(statement))
            except Exception as error:  # the guard's refusal, whatever the driver wraps it in
                refused = str(error)
            assert refused is not None and "append-only" in refused, statement


async def test_checkpoint_rows_deleted_from_the_database_are_found_against_the_log(
    desk: Desk, engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    await desk.file(APPLICANT)
    log = tmp_path / "checkpoints.log"
    assert (await alliance(engine, settings, log, "audit", "checkpoint")).returncode == 0
    latest = json.loads(log.read_text().splitlines()[-1])
    async with engine.begin() as conn:  # as the tables' owner: the newest checkpoint removed, guards off a moment
        for table in ("audit_checkpoint_heads", "audit_checkpoints"):
            await conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_no_update_delete"))
        await conn.execute(text("DELETE FROM audit_checkpoint_heads WHERE checkpoint_id = :id"), {"id": latest["id"]})
        await conn.execute(text("DELETE FROM audit_checkpoints WHERE id = :id"), {"id": latest["id"]})
        for table in ("audit_checkpoint_heads", "audit_checkpoints"):
            await conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER {table}_no_update_delete"))

    every = await alliance(engine, settings, log, "audit", "verify")
    assert every.returncode == 1
    assert f"checkpoint {latest['id']} of" in every.stderr and "in the checkpoint log but not in the database" in (
        every.stderr.replace("\n", " "))
