"""Unsigned events (issue 20): one counts as valid only as far as a signed checkpoint holds it. The table's owner
can strip an event's signature columns or insert an unsigned, correctly chained event; neither may pass for an
event from before signing. Each test's case is in a database of its own (`team`): its rows are tampered with,
and whole-trail checks of the session's database must not meet them. Every verifier gives the same verdict: the
case's (over HTTP, and `alliance audit verify --case`), the whole trail's (streamed) and the evidence pack's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert

from domain.checkpoints import UNHELD
from infra.checkpoints import anchor_legacy_trail, take_checkpoint
from infra.closed_cases import append_to_closed_case
from infra.retention import archive_case, archive_closed_cases
from infra.settings import Settings
from infra.tables import audit_events
from tests.helpers.audit_cli import alliance, as_table_owner
from tests.helpers.people import APPLICANT, AUDITOR, COORDINATOR
from tests.helpers.scenarios import to_matching
from tests.helpers.tampering import STRIP, next_event, verdicts
from tests.helpers.team import Team


async def test_signatures_stripped_after_a_checkpoint_are_broken_at_the_first_seq_it_does_not_hold(
    team: Team, settings: Settings, tmp_path: Path
) -> None:
    assert team.engine is not None
    whole, last = await to_matching(team), await to_matching(team)
    await take_checkpoint(team.engine, settings.audit_keys, None, datetime.now(UTC))  # holds both at event 3
    for case in (whole, last):
        await team.ok(case, "add_note", COORDINATOR, text="after the checkpoint")
    # every signature of one case (it would pass for a trail from before signing), the last event's of the other
    await as_table_owner(team.engine, STRIP, id=whole["id"], first=1)
    await as_table_owner(team.engine, STRIP, id=last["id"], first=4)

    found = await verdicts(team, settings, whole["id"], tmp_path)
    assert found.case == found.streamed == (False, 4)
    assert found.report["reason"] == UNHELD and found.report["unsigned"] == 4
    assert found.pack == [f"events.jsonl line 4 (event 4): {UNHELD.replace('checkpoint', 'checkpoint of the pack')}"]
    found = await verdicts(team, settings, last["id"], tmp_path)
    assert found.case == found.streamed == (False, 4)
    assert "not signed" in found.report["reason"]
    assert [p.split(":")[0] for p in found.pack] == ["events.jsonl line 4 (event 4)"]

    # a checkpoint taken now does not hold what was stripped: it leaves out unsigned heads and trails
    await take_checkpoint(team.engine, settings.audit_keys, None, datetime.now(UTC))
    assert (await team.verify(whole["id"], AUDITOR))["first_broken_seq"] == 4
    log = tmp_path / "checkpoints.log"
    one = await alliance(team.engine, settings, log, "audit", "verify", "--case", whole["id"])
    assert one.returncode == 1 and f"broken {whole['id']}: event 4: {UNHELD}" in " ".join(one.stderr.split())


async def test_an_unsigned_correctly_chained_insert_is_broken_at_its_seq(
    team: Team, settings: Settings, tmp_path: Path
) -> None:
    """Stripped, the checkpointed events themselves still verify (the checkpoint pinned their hashes, which is what
    their signatures vouched for); an unsigned event chained after them is held by no checkpoint."""
    assert team.engine is not None
    case = await to_matching(team)
    await take_checkpoint(team.engine, settings.audit_keys, None, datetime.now(UTC))
    await as_table_owner(team.engine, STRIP, id=case["id"], first=1)
    held = await verdicts(team, settings, case["id"], tmp_path)
    assert held.case == held.streamed == (True, None) and held.pack == []
    assert (held.report["unsigned"], held.report["signed"]) == (3, 0)
    assert await anchor_legacy_trail(team.engine, settings.audit_keys, None, datetime.now(UTC)) is None, (
        "no event is signed now, but a checkpoint exists: no second legacy anchor")

    last = (await team.history(case, AUDITOR))[-1]
    async with team.engine.begin() as conn:  # the append-only guard allows inserts: the forger needs no more
        await conn.execute(insert(audit_events).values(**next_event(last).model_dump()))
    found = await verdicts(team, settings, case["id"], tmp_path)
    assert found.case == found.streamed == (False, 4)
    assert found.report["reason"] == UNHELD
    assert [p.split(":")[0] for p in found.pack] == ["events.jsonl line 4 (event 4)"]


async def test_events_from_before_signing_held_by_the_first_checkpoint_stay_valid_and_are_counted_unsigned(
    team: Team, settings: Settings, tmp_path: Path
) -> None:
    """A deployment whose events were recorded before signing began (here: every signature of the database
    stripped, which the database alone cannot tell apart): the first worker start anchors them, once."""
    assert team.engine is not None
    case = await to_matching(team)
    await as_table_owner(team.engine, "UPDATE audit_events SET key_id = NULL, signature = NULL")
    unheld = await verdicts(team, settings, case["id"], tmp_path)
    assert unheld.case == unheld.streamed == (False, 1), "no checkpoint holds them yet"
    log = tmp_path / "checkpoints.log"
    first = await anchor_legacy_trail(team.engine, settings.audit_keys, log, datetime.now(UTC))
    assert first is not None and first.cases >= 1 and len(log.read_text().splitlines()) == 1

    found = await verdicts(team, settings, case["id"], tmp_path)
    assert found.case == found.streamed == (True, None) and found.pack == []
    assert (found.report["unsigned"], found.report["signed"]) == (3, 0)
    await team.ok(case, "add_note", COORDINATOR, text="signed from now on")
    found = await verdicts(team, settings, case["id"], tmp_path)
    assert found.case == found.streamed == (True, None) and found.pack == []
    assert (found.report["unsigned"], found.report["signed"]) == (3, 1)

    # Once an event is signed, deleting the checkpoints does not get a second legacy anchor.
    async with team.engine.begin() as conn:
        for table in ("audit_checkpoint_heads", "audit_checkpoints"):
            await conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            await conn.execute(text(f"DELETE FROM {table}"))
            await conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
    assert await anchor_legacy_trail(team.engine, settings.audit_keys, log, datetime.now(UTC)) is None
    assert (await team.verify(case, AUDITOR))["first_broken_seq"] == 1
    answer = await alliance(team.engine, settings, log, "audit", "verify")
    assert answer.returncode == 1 and "in the checkpoint log but not in the database" in answer.stderr


async def test_retention_and_closed_case_events_refuse_a_trail_with_unheld_unsigned_events(
    team: Team, settings: Settings, tmp_path: Path
) -> None:
    """Erasing from such a trail would call it verified; a signed event chained onto it would vouch for the
    forgery. Both refuse, naming the event."""
    assert team.engine is not None
    case = await team.file(APPLICANT)
    await team.ok(case, "relay", COORDINATOR, offices=["sbic"])
    assert (await team.ok(case, "withdraw", APPLICANT, reason="plans changed"))["stage"] == "closed"
    await take_checkpoint(team.engine, settings.audit_keys, None, datetime.now(UTC))
    await as_table_owner(team.engine, STRIP, id=case["id"], first=1)  # held: still a verified trail
    last = (await team.history(case, AUDITOR))[-1]
    async with team.engine.begin() as conn:
        await conn.execute(insert(audit_events).values(**next_event(last).model_dump()))

    with pytest.raises(ValueError, match=f"broken at event 4: {UNHELD}"):
        await archive_case(team.engine, case["id"], tmp_path, retention_years=10, now=datetime.now(UTC),
                           keys=settings.audit_keys)
    archived = await archive_closed_cases(team.engine, datetime.now(UTC) + timedelta(seconds=1), tmp_path, 10,
                                          datetime.now(UTC), settings.audit_keys)
    assert case["id"] in archived.refused and case["id"] not in archived.archived
    told = await append_to_closed_case(team.engine, settings.audit_keys.signer, case["id"], "mail_undeliverable",
                                       {"note": "bounced"}, datetime.now(UTC))
    assert told == "broken"
    assert len(await team.history(case, AUDITOR)) == 4, "nothing chained onto the forgery"


async def test_retention_refuses_a_closed_case_whose_every_event_was_deleted(
    team: Team, settings: Settings, tmp_path: Path
) -> None:
    """No trail is no verified trail: archiving refuses it, broken at event 1, as every verifier calls it (it read
    an empty list of events as a valid chain and stopped with NoResultFound reading the last event it lacked); the
    mail relay's event on it is refused too (it stopped with NoResultFound, and the relay tried it again for ever)."""
    assert team.engine is not None
    case = await team.file(APPLICANT)
    assert (await team.ok(case, "withdraw", APPLICANT, reason="plans changed"))["stage"] == "closed"
    await as_table_owner(team.engine, "DELETE FROM audit_events WHERE case_id = :id", id=case["id"])
    with pytest.raises(ValueError, match="broken at event 1: "):
        await archive_case(team.engine, case["id"], tmp_path, retention_years=10, now=datetime.now(UTC),
                           keys=settings.audit_keys)
    archived = await archive_closed_cases(team.engine, datetime.now(UTC) + timedelta(seconds=1), tmp_path, 10,
                                          datetime.now(UTC), settings.audit_keys)
    assert case["id"] not in archived.archived
    told = await append_to_closed_case(team.engine, settings.audit_keys.signer, case["id"], "mail_undeliverable",
                                       {"note": "bounced"}, datetime.now(UTC))
    assert told == "broken"
