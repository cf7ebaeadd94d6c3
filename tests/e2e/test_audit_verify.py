"""The audit trail proves itself: a row changed behind the application's back is found at exactly that event."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.settings import Settings
from tests.helpers.audit_cli import alliance, as_table_owner
from tests.helpers.desk import Desk
from tests.helpers.people import AUDITOR, COORDINATOR
from tests.helpers.scenarios import to_matching


async def test_verification_finds_the_event_changed_behind_our_back(desk: Desk, engine: AsyncEngine,
                                                                    settings: Settings) -> None:
    case = await to_matching(desk)
    url = f"/api/cases/{case['id']}/history/verify"
    intact = (await desk.http.get(url, headers=desk.headers(AUDITOR))).json()
    assert intact == {"valid": True, "events": 3, "first_broken_seq": None, "reason": None, "signed": 3,
                      "unsigned": 0, "checkpoint": None}

    # As the database owner, with the append-only guard switched off for a moment.
    async with engine.begin() as conn:
        await conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete"))
        await conn.execute(
            text("UPDATE audit_events SET payload = jsonb_set(payload, '{note}', '\"forged\"') "
                 "WHERE case_id = :id AND seq = 2"),
            {"id": case["id"]},
        )
        await conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete"))

    broken = (await desk.http.get(url, headers=desk.headers(COORDINATOR))).json()
    assert (broken["valid"], broken["first_broken_seq"]) == (False, 2)
    assert "altered" in broken["reason"]

    env = {**os.environ, "DATABASE_URL": engine.url.render_as_string(hide_password=False), "COLUMNS": "200",
           "TOKEN_PEPPER": settings.token_pepper.get_secret_value()}  # the same (development) signing key
    cli = await asyncio.to_thread(
        subprocess.run, [str(Path(sys.executable).parent / "alliance"), "audit", "verify"], env=env,
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert cli.returncode == 1, cli.stderr
    assert f"broken {case['id']}: event 2" in cli.stderr
    assert " broken" in cli.stderr.splitlines()[-1]  # other tests' forged cases share this database


async def test_every_signature_looks_again_at_a_signature_column_the_head_already_vouches_for(
    desk: Desk, engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    """Event 2's signature column overwritten (its content and hash untouched): the head's signature still vouches
    for event 2's content, so `alliance audit verify` passes the case; `--every-signature` checks that column too."""
    case = await to_matching(desk)
    await as_table_owner(engine, "UPDATE audit_events SET signature = repeat('ab', 64) WHERE case_id = :id "
                                 "AND seq = 2", id=case["id"])
    log = tmp_path / "checkpoints.log"
    quick = await alliance(engine, settings, log, "audit", "verify", "--case", case["id"])
    assert quick.returncode == 0, quick.stdout + quick.stderr
    every = await alliance(engine, settings, log, "audit", "verify", "--case", case["id"], "--every-signature")
    assert every.returncode == 1
    assert f"broken {case['id']}: event 2: its signature does not hold" in every.stdout + every.stderr
    whole = await alliance(engine, settings, log, "audit", "verify", "--every-signature")
    assert f"broken {case['id']}: event 2" in whole.stdout + whole.stderr
