"""A checkpoint row the table's owner damaged (a NOT NULL dropped, a column set NULL) is a checkpoint that does not
hold, for every reader of checkpoints: the case's verification (HTTP), its evidence pack and `alliance audit
verify` name it, where they answered 500 or stopped with a traceback. Each test's case is in a database of its own
(`team`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from infra.checkpoints import take_checkpoint
from infra.evidence_check import check_pack
from infra.settings import Settings
from tests.helpers.audit_cli import alliance
from tests.helpers.people import AUDITOR
from tests.helpers.scenarios import to_matching
from tests.helpers.team import Team

DAMAGE = {
    "root": ("audit_checkpoints", "root"),
    "at": ("audit_checkpoints", "at"),
    "signature": ("audit_checkpoints", "signature"),
    "cases": ("audit_checkpoints", "cases"),
    "head seq": ("audit_checkpoint_heads", "seq"),
    "head hash": ("audit_checkpoint_heads", "head_hash"),
}


@pytest.mark.parametrize("what", list(DAMAGE))
async def test_a_checkpoint_row_set_null_is_a_checkpoint_that_does_not_hold(
    team: Team, settings: Settings, tmp_path: Path, what: str
) -> None:
    assert team.engine is not None
    case = await to_matching(team)
    await take_checkpoint(team.engine, settings.audit_keys, None, datetime.now(UTC))
    table, column = DAMAGE[what]
    async with team.engine.begin() as conn:
        await conn.execute(text(f"ALTER TABLE {table} ALTER COLUMN {column} DROP NOT NULL"))
        await conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        await conn.execute(text(f"UPDATE {table} SET {column} = NULL"))
        await conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))

    report = await team.verify(case["id"], AUDITOR)
    assert not report["valid"] and report["checkpoint"] is not None and report["checkpoint"].startswith("checkpoint 1")
    answer = await team.http.get(f"/api/cases/{case['id']}/evidence", headers=team.headers(AUDITOR))
    assert answer.status_code == 200, answer.text[:300]
    pack = tmp_path / "pack.zip"
    pack.write_bytes(answer.content)
    problems, _ = check_pack(str(pack))
    assert problems and all("checkpoint" in problem for problem in problems), problems
    log = tmp_path / "checkpoints.log"
    for args in (("audit", "verify"), ("audit", "verify", "--case", case["id"])):
        found = await alliance(team.engine, settings, log, *args)
        said = " ".join((found.stdout + found.stderr).split())
        assert found.returncode == 1 and "Traceback" not in said, said[-2000:]
        assert f"broken {case['id']}: event" in said and "checkpoint 1" in said, said[-2000:]
