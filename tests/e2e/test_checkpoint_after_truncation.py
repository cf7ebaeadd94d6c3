"""Anchored heads (issue 20): a checkpoint taken after a trail's tail was cut does not hide the cut. Checkpoint 1
holds event 4 of a case; the table's owner deletes events 3-4; the next checkpoint (cron, or the nightly one) holds
event 2; verification still holds the trail against checkpoint 1, the furthest head it ever had, as the evidence
pack does."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.settings import Settings
from tests.helpers.audit_cli import alliance
from tests.helpers.desk import Desk
from tests.helpers.people import AUDITOR
from tests.helpers.scenarios import to_matching


async def test_a_newer_checkpoint_does_not_launder_a_tail_deleted_after_an_older_one(
    desk: Desk, engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    case = await to_matching(desk)
    log = tmp_path / "checkpoints.log"
    assert (await alliance(engine, settings, log, "audit", "checkpoint")).returncode == 0
    async with engine.begin() as conn:
        await conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete"))
        await conn.execute(text("DELETE FROM audit_events WHERE case_id = :id AND seq >= 3"), {"id": case["id"]})
        await conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete"))
    assert not (await desk.verify(case["id"], AUDITOR))["valid"]  # found, naming checkpoint 1
    assert (await alliance(engine, settings, log, "audit", "checkpoint")).returncode == 0  # e.g. from cron
    report = await desk.verify(case["id"], AUDITOR)
    assert report["valid"] is False, "checkpoint 1 still says events 3 and 4 existed"
