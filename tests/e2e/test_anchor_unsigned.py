"""`alliance audit anchor-unsigned` (issue 20): in a deployment that signs already, unsigned trails no checkpoint
holds (recorded before signing, upgraded late) are broken for every verifier until an operator, having made sure,
anchors them on the record. Only trails that hold by themselves are anchored; the operator's name and reason go on
the oversight chain with the checkpoint. Each test's cases are in a database of their own (`team`)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from domain.checkpoints import UNHELD
from domain.verification import OVERSIGHT_CHAIN
from infra.settings import Settings
from infra.tables import audit_events
from infra.unsigned_trails import ANCHORED_EVENT
from tests.helpers.audit_cli import alliance, as_table_owner
from tests.helpers.people import AUDITOR, COORDINATOR
from tests.helpers.scenarios import to_matching
from tests.helpers.tampering import STRIP, verdicts
from tests.helpers.team import Team

ANCHOR = ("audit", "anchor-unsigned", "--by", "Sato Hanako", "--reason", "upgraded from 1.4, which did not sign")


async def test_an_operator_anchors_the_unsigned_trails_that_hold_and_the_oversight_chain_says_who(
    team: Team, settings: Settings, tmp_path: Path
) -> None:
    assert team.engine is not None
    signed, legacy, altered = await to_matching(team), await to_matching(team), await to_matching(team)
    for case in (legacy, altered):  # as if recorded before signing began
        await as_table_owner(team.engine, STRIP, id=case["id"], first=1)
    await as_table_owner(team.engine, "UPDATE audit_events SET payload = payload || '{\"x\": 1}'::jsonb "
                                      "WHERE case_id = :id AND seq = 2", id=altered["id"])
    before = await verdicts(team, settings, legacy["id"], tmp_path)
    assert before.case == before.streamed == (False, 1) and before.report["reason"] == UNHELD
    log = tmp_path / "checkpoints.log"

    listed = await alliance(team.engine, settings, log, *ANCHOR)
    out = " ".join((listed.stdout + listed.stderr).split())
    assert listed.returncode == 1, listed.stdout + listed.stderr  # a trail is left broken
    assert "1 unsigned trail(s) would be anchored; run again with --yes" in out
    assert f"left broken {altered['id']}: event 2:" in out and f"would anchor {legacy['id']}: 3 unsigned" in out
    assert f"left broken {legacy['id']}" not in out and signed["id"] not in out
    assert not log.exists(), "without --yes nothing is written"
    assert (await verdicts(team, settings, legacy["id"], tmp_path)).case == (False, 1)

    done = await alliance(team.engine, settings, log, *ANCHOR, "--yes")
    out = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 1 and "holds 1 unsigned trail(s)" in out and "anchored by Sato Hanako" in out, out
    assert f"anchored {legacy['id']}: 3 unsigned event(s)" in out
    assert len(log.read_text().splitlines()) == 1
    found = await verdicts(team, settings, legacy["id"], tmp_path)
    assert found.case == found.streamed == (True, None) and found.pack == []
    assert (found.report["unsigned"], found.report["signed"]) == (3, 0)
    still = await verdicts(team, settings, altered["id"], tmp_path)
    assert still.case == still.streamed == (False, 1) and still.report["reason"] == UNHELD, (
        "a trail that does not hold is never anchored")
    assert (await verdicts(team, settings, signed["id"], tmp_path)).case == (True, None)

    async with team.engine.connect() as conn:
        record = (await conn.execute(
            select(audit_events.c.type, audit_events.c.actor, audit_events.c.payload, audit_events.c.signature)
            .where(audit_events.c.case_id == OVERSIGHT_CHAIN).order_by(audit_events.c.seq.desc()).limit(1)
        )).one()
    assert record.type == ANCHORED_EVENT and record.signature is not None
    assert record.actor["name"] == "Sato Hanako"
    assert record.payload["reason"] == "upgraded from 1.4, which did not sign"
    assert (record.payload["cases"], record.payload["left_broken"]) == (1, 1)
    verified = await alliance(team.engine, settings, log, "audit", "verify", "--case", OVERSIGHT_CHAIN)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    again = await alliance(team.engine, settings, log, *ANCHOR, "--yes")
    assert "no unsigned trail to anchor" in " ".join((again.stdout + again.stderr).split())
    assert len(log.read_text().splitlines()) == 1
    await team.ok(legacy, "add_note", COORDINATOR, text="signed from now on")
    after = await team.verify(legacy["id"], AUDITOR)
    assert after["valid"] and (after["unsigned"], after["signed"]) == (3, 1)


async def test_anchoring_asks_for_a_name_and_a_reason(team: Team, settings: Settings, tmp_path: Path) -> None:
    """A name or reason of invisible characters only (a zero-width space, a word joiner, a byte-order mark, a
    Hangul filler) passed: the oversight chain recorded a checkpoint anchored by nobody one can read."""
    assert team.engine is not None
    for args in (("--by", " ", "--reason", "upgrade"), ("--by", "Sato", "--reason", ""), ("--reason", "upgrade"),
                 ("--by", "\u200b", "--reason", "upgrade"), ("--by", "\u3164\ufeff", "--reason", "upgrade"),
                 ("--by", "Sato", "--reason", "\u2060")):
        answer = await alliance(team.engine, settings, tmp_path / "log", "audit", "anchor-unsigned", *args, "--yes")
        assert answer.returncode == 2, answer.stdout + answer.stderr
        assert "--by" in answer.stdout + answer.stderr
