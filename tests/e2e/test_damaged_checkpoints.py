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


def set_null(table: str, column: str) -> list[str]:
    """`column` of every row of `table` set NULL, its NOT NULL dropped first."""
    return [f"ALTER TABLE {table} ALTER COLUMN {column} DROP NOT NULL", f"UPDATE {table} SET {column} = NULL"]


UNTIE = "ALTER TABLE audit_checkpoint_heads DROP CONSTRAINT audit_checkpoint_heads_checkpoint_id_fkey"
"""The heads' foreign key to their checkpoint dropped, as the tables' owner may."""

DAMAGE = {
    "root": set_null("audit_checkpoints", "root"),
    "at": set_null("audit_checkpoints", "at"),
    "signature": set_null("audit_checkpoints", "signature"),
    "cases": set_null("audit_checkpoints", "cases"),
    "head seq": set_null("audit_checkpoint_heads", "seq"),
    "head hash": set_null("audit_checkpoint_heads", "head_hash"),
    "row deleted, heads kept": [UNTIE, "DELETE FROM audit_checkpoints"],
    "id twice": ["ALTER TABLE audit_checkpoints DROP CONSTRAINT audit_checkpoints_pkey CASCADE",
                 "INSERT INTO audit_checkpoints SELECT id, at, cases + 1, root, prev, md5(digest) || md5(digest), "
                 "key_id, signature, verified FROM audit_checkpoints"],
    "head seq negative": ["UPDATE audit_checkpoint_heads SET seq = -7"],
    "head seq largest": ["UPDATE audit_checkpoint_heads SET seq = 2147483647"],
    "head hash not hex": ["UPDATE audit_checkpoint_heads SET head_hash = repeat('zz', 32)"],
    "signature short": ["UPDATE audit_checkpoints SET signature = 'abc'"],
    "unknown key": ["UPDATE audit_checkpoints SET key_id = 'no-such-key'"],
    "at infinity": ["UPDATE audit_checkpoints SET at = 'infinity'"],
    "at -infinity": ["UPDATE audit_checkpoints SET at = '-infinity'"],
}
"""What the tables' owner does to the checkpoint (the tables' triggers off meanwhile): a column set NULL (its NOT
NULL dropped), the checkpoint's row deleted (its heads kept, their foreign key dropped), a second row with
its id (the primary key dropped, and the foreign keys on it), values no checkpoint is written with."""


@pytest.mark.parametrize("what", list(DAMAGE))
async def test_a_damaged_checkpoint_row_is_a_checkpoint_that_does_not_hold(
    team: Team, settings: Settings, tmp_path: Path, what: str
) -> None:
    assert team.engine is not None
    case = await to_matching(team)
    await take_checkpoint(team.engine, settings.audit_keys, None, datetime.now(UTC))
    async with team.engine.begin() as conn:
        for table in ("audit_checkpoints", "audit_checkpoint_heads"):
            await conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        for statement in DAMAGE[what]:
            await conn.execute(text(statement))
        for table in ("audit_checkpoints", "audit_checkpoint_heads"):
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
