"""A checkpoint never holds a head whose signature does not hold: the table's owner appends a forged event with a
made-up signature (broken for now), lets the routine `alliance audit checkpoint` hold it, then strips every
signature of the case. Had the checkpoint held it, every event would be 'unsigned, held by a checkpoint' and the
forgery valid for every verifier (the API, the streamed one and the evidence pack's)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.dialects.postgresql import insert

from infra.checkpoints import take_checkpoint
from infra.settings import Settings
from infra.tables import audit_events
from tests.helpers.audit_cli import as_table_owner
from tests.helpers.people import AUDITOR
from tests.helpers.scenarios import to_matching
from tests.helpers.tampering import STRIP, next_event, verdicts
from tests.helpers.team import Team


async def test_a_forged_head_with_a_made_up_signature_is_not_held_and_stays_broken_once_stripped(
        team: Team, settings: Settings, tmp_path: Path) -> None:
    assert team.engine is not None
    case = await to_matching(team)
    last = (await team.history(case, AUDITOR))[-1]
    forged = next_event(last).model_dump() | {"key_id": last["key_id"], "signature": "00" * 64}
    async with team.engine.begin() as conn:
        await conn.execute(insert(audit_events).values(**forged))
    checkpoint = await take_checkpoint(team.engine, settings.audit_keys, None, datetime.now(UTC))
    assert checkpoint.cases == 0
    await as_table_owner(team.engine, STRIP, id=case["id"], first=1)
    found = await verdicts(team, settings, case["id"], tmp_path)
    assert found.case == found.streamed == (False, 1), found
    assert found.pack and "event 1" in found.pack[0], found.pack
