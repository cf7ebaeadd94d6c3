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


async def test_a_checkpoint_is_taken_after_one_whose_row_was_deleted_and_the_log_names_the_missing_one(
    team: Team, settings: Settings, tmp_path: Path
) -> None:
    """With checkpoint 1's row deleted and its heads kept (their foreign key dropped), `alliance audit checkpoint` (and
    the nightly verification's checkpoint) took the next id from the rows alone, 1 again, and stopped on its heads'
    primary key: "failed unexpectedly" and a traceback, every night. It takes checkpoint 2, and `alliance audit
    verify` names checkpoint 1 as in the log but not in the database."""
    assert team.engine is not None
    await to_matching(team)
    log = tmp_path / "checkpoints.log"
    assert (await alliance(team.engine, settings, log, "audit", "checkpoint")).returncode == 0
    async with team.engine.begin() as conn:
        for statement in ("ALTER TABLE audit_checkpoints DISABLE TRIGGER USER", *DAMAGE["row deleted, heads kept"],
                          "ALTER TABLE audit_checkpoints ENABLE TRIGGER USER"):
            await conn.execute(text(statement))

    taken = await alliance(team.engine, settings, log, "audit", "checkpoint")
    said = " ".join((taken.stdout + taken.stderr).split())
    assert taken.returncode == 0 and "checkpoint 2 of" in said, said[-2000:]
    verified = await alliance(team.engine, settings, log, "audit", "verify")
    said = " ".join((verified.stdout + verified.stderr).split())
    assert verified.returncode == 1 and "Traceback" not in said, said[-2000:]
    assert "checkpoint 1 of" in said and "is in the checkpoint log but not in the database" in said, said[-2000:]
