"""A case whose event 1 the table's owner stripped of its signature (after a checkpoint held it) is still held by
later checkpoints: deleting its last event afterwards is a break. Before, `signed_heads` left such a trail out of
every later `alliance audit checkpoint`, and the cut tail verified."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from infra.checkpoints import take_checkpoint
from infra.settings import Settings
from tests.helpers.audit_cli import as_table_owner
from tests.helpers.people import AUDITOR, COORDINATOR
from tests.helpers.scenarios import to_matching
from tests.helpers.team import Team


@pytest.mark.parametrize("strip_first", [False, True], ids=["intact", "event 1 stripped"])
async def test_a_cut_tail_is_seen_even_after_event_1_was_stripped(team: Team, settings: Settings,
                                                          strip_first: bool) -> None:
    assert team.engine is not None
    case = await to_matching(team)
    await take_checkpoint(team.engine, settings.audit_keys, None, datetime.now(UTC))  # holds event 3
    if strip_first:
        await as_table_owner(team.engine, "UPDATE audit_events SET key_id = NULL, signature = NULL "
                             "WHERE case_id = :id AND seq = 1", id=case["id"])
        assert (await team.verify(case["id"], AUDITOR))["valid"]  # held: still valid
    for _ in range(2):
        r = await team.act(case, "add_note", COORDINATOR, text="n")
        assert r.status_code == 200, r.text
    history = await team.history(case, COORDINATOR)
    last = len(history)
    await take_checkpoint(team.engine, settings.audit_keys, None, datetime.now(UTC))
    await as_table_owner(team.engine, "DELETE FROM audit_events WHERE case_id = :id AND seq = "
                         + str(last), id=case["id"])
    report = await team.verify(case["id"], AUDITOR)
    assert not report["valid"], report
