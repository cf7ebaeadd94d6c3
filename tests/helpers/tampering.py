"""What a database's owner can do to the audit trail, and every verifier's verdict on it (tests of issue 20)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.audit import AuditEntry, make_entry
from infra.evidence_check import check_pack
from infra.settings import Settings
from infra.stored_checkpoints import latest_anchors
from infra.streamed_verification import verify_every_chain
from tests.helpers.audit_cli import as_table_owner
from tests.helpers.people import AUDITOR
from tests.helpers.team import Team

STRIP = "UPDATE audit_events SET key_id = NULL, signature = NULL WHERE case_id = :id AND seq >= :first"


@dataclass(frozen=True)
class Verdicts:
    """(valid, first broken seq) from each verifier, and the pack checker's problems."""

    case: tuple[bool, int | None]
    streamed: tuple[bool, int | None]
    pack: list[str]
    report: dict[str, Any]


async def verdicts(team: Team, settings: Settings, case_id: str, tmp_path: Path) -> Verdicts:
    assert team.engine is not None and team.sessions is not None
    report = await team.verify(case_id, AUDITOR)
    keyring = settings.audit_keys.keyring
    anchors = await latest_anchors(team.engine, keyring)
    streamed = {c: r async for c, r in verify_every_chain(team.sessions, keyring, anchors)}[case_id]
    answer = await team.http.get(f"/api/cases/{case_id}/evidence", headers=team.headers(AUDITOR))
    assert answer.status_code == 200, answer.text
    pack = tmp_path / f"{case_id}.zip"
    pack.write_bytes(answer.content)
    problems, _ = check_pack(str(pack))
    return Verdicts((report["valid"], report["first_broken_seq"]), (streamed.valid, streamed.first_broken_seq),
                    problems, report)


def next_event(last: dict[str, Any]) -> AuditEntry:
    """The next event, unsigned, as the product's own hashing chains it (what a forger with the table can do)."""
    return make_entry(case_id=last["case_id"], seq=last["seq"] + 1, type="add_note", actor=last["actor"],
                      at=datetime.now(UTC), stage_before=last["stage_after"], stage_after=last["stage_after"],
                      payload={"text": "the applicant withdrew by phone"}, prev_hash=last["hash"])


async def damage(team: Team, statement: str, case_id: str, *, loosen: str | None = None) -> None:
    """`statement` on the case's rows as the table's owner (`damage_rows`, on the team's database)."""
    assert team.engine is not None
    await damage_rows(team.engine, statement, case_id, loosen=loosen)


async def damage_rows(engine: AsyncEngine, statement: str, case_id: str, *, loosen: str | None = None) -> None:
    """`statement` on the case's rows as the table's owner; `loosen`: the column whose NOT NULL (or, for `seq`,
    the primary key) is dropped first, as an owner may."""
    if loosen is not None:
        async with engine.begin() as conn:
            if loosen == "seq":
                await conn.execute(text("ALTER TABLE audit_events DROP CONSTRAINT audit_events_pkey"))
            await conn.execute(text(f"ALTER TABLE audit_events ALTER COLUMN {loosen} DROP NOT NULL"))
    await as_table_owner(engine, statement, id=case_id)


async def damage_record(engine: AsyncEngine, case_id: str, snapshot: str) -> None:
    """The case's read-model row (`cases.snapshot`, which no trigger guards) set to the JSON `snapshot`, as its owner
    may; the row's other columns (reference, stage, …) stay as they were."""
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE cases SET snapshot = CAST(:snapshot AS jsonb) WHERE id = :id"),
                           {"snapshot": snapshot, "id": case_id})


async def set_case_column(engine: AsyncEngine, column: str, value: str, *case_ids: str) -> None:
    """The cases' read-model rows with `column` set to the SQL `value` (`NULL`: its NOT NULL dropped first; a time
    no case is given, `'infinity'`), as the table's owner may."""
    async with engine.begin() as conn:
        if value == "NULL":
            await conn.execute(text(f"ALTER TABLE cases ALTER COLUMN {column} DROP NOT NULL"))
        await conn.execute(text(f"UPDATE cases SET {column} = {value} WHERE id = ANY(:ids)"), {"ids": list(case_ids)})
