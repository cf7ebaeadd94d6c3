"""Rows of the trail a database owner damaged — a column NULL, JSON of the wrong type, a seq gone, twice or NULL, a
time out of range, every event of a case deleted — give a verdict (over HTTP, on the console and in the streamed
`alliance audit verify`) or a 409 problem+json naming the event, never a 500 or a traceback. Each test has a
database of its own: the damage (and the constraints dropped for it) must not reach other tests' trails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.settings import Settings
from tests.helpers.audit_cli import alliance
from tests.helpers.people import AUDITOR, COORDINATOR, SBIC, officer
from tests.helpers.scenarios import to_matching
from tests.helpers.tampering import damage, damage_record
from tests.helpers.team import Team

ALTERED = "its content does not match its hash: the event was altered"


async def api_answers(team: Team, case_id: str) -> dict[str, Any]:
    """What the API and the console say of the case."""
    verify = await team.http.get(f"/api/cases/{case_id}/history/verify", headers=team.headers(AUDITOR))
    history = await team.http.get(f"/api/cases/{case_id}/history", headers=team.headers(COORDINATOR))
    async with team.browser(AUDITOR) as browser:
        page = await browser.get(f"/cases/{case_id}/audit")
    return {"verify": verify, "history": history, "page": page}


async def assert_broken_at(team: Team, settings: Settings, tmp_path: Path, broken: dict[str, int],
                           readable: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Each case of `broken` is broken at its seq for the API, the console, `alliance audit verify --case` and the
    streamed `alliance audit verify` (run once, over the whole trail), and its history a 409 naming that event
    (but for the cases `readable`, whose every row still reads as an event); the API's verdicts, by case."""
    assert team.engine is not None
    log = tmp_path / "checkpoints.log"
    streamed = await alliance(team.engine, settings, log, "audit", "verify")
    found = {}
    for case_id, seq in broken.items():
        found[case_id] = answers = await api_answers(team, case_id)
        verify = answers["verify"]
        assert verify.status_code == 200, verify.text
        assert (verify.json()["valid"], verify.json()["first_broken_seq"]) == (False, seq), verify.text
        history = answers["history"]
        if case_id in readable:
            assert (history.status_code, answers["page"].status_code) == (200, 200), history.text
            continue
        assert history.status_code == 409, history.text
        assert history.headers["content-type"].startswith("application/problem+json")
        assert history.json()["type"].endswith("unreplayable") and f"event {seq}" in history.json()["detail"]
        assert answers["page"].status_code == 409, answers["page"].text[:500]
    for case_id, seq in broken.items():
        one = await alliance(team.engine, settings, log, "audit", "verify", "--case", case_id)
        for cli in (streamed, one):
            assert cli.returncode == 1, cli.stderr
            assert "Traceback" not in cli.stderr and "failed unexpectedly" not in cli.stderr, cli.stderr
            assert f"broken {case_id}: event {seq}" in cli.stderr, cli.stderr
    assert f"{len(broken)} broken" in streamed.stderr.splitlines()[-1], streamed.stderr
    return found


NULLABLE = ["hash", "prev_hash", "at", "payload", "type", "actor", "stage_after", "hash_version", "seq"]


async def test_a_column_set_to_null_by_the_owner_is_a_break_at_its_event(
        team: Team, settings: Settings, tmp_path: Path) -> None:
    cases = [await to_matching(team) for _ in NULLABLE]  # all filed first: recording needs the primary key
    intact = await to_matching(team)
    broken = {}
    for column, case in zip(NULLABLE, cases, strict=True):
        await damage(team, f"UPDATE audit_events SET {column} = NULL WHERE case_id = :id AND seq = 2", case["id"],
                     loosen=column)
        broken[case["id"]] = 3 if column == "seq" else 2  # a NULL seq sorts last: event 3 comes second
    found = await assert_broken_at(team, settings, tmp_path, broken)
    for column, case_id in zip(NULLABLE, broken, strict=True):
        if column != "seq":
            assert f"its {column} is NULL" in found[case_id]["verify"].json()["reason"]
    assert team.engine is not None  # a checkpoint anchors each case's last readable event, and takes no NULL head
    checkpoint = await alliance(team.engine, settings, tmp_path / "checkpoints.log", "audit", "checkpoint")
    assert checkpoint.returncode == 0 and "Traceback" not in checkpoint.stderr, checkpoint.stderr
    again = await alliance(team.engine, settings, tmp_path / "checkpoints.log", "audit", "verify")
    assert again.returncode == 1 and f"{len(broken)} broken" in again.stderr.splitlines()[-1], again.stderr
    assert (await team.http.get(f"/api/cases/{intact['id']}/history", headers=team.headers(AUDITOR))).status_code == 200


async def test_a_case_whose_every_event_was_deleted_is_broken_at_event_1(
        team: Team, settings: Settings, tmp_path: Path) -> None:
    case = await to_matching(team)
    await damage(team, "DELETE FROM audit_events WHERE case_id = :id", case["id"])
    found = await assert_broken_at(team, settings, tmp_path, {case["id"]: 1})
    assert "no event" in found[case["id"]]["verify"].json()["reason"]


DAMAGE: list[tuple[Any, ...]] = [
    ("UPDATE audit_events SET payload = '[1, 2]' WHERE case_id = :id AND seq = 2", 2),
    ("UPDATE audit_events SET payload = '\"text\"' WHERE case_id = :id AND seq = 2", 2),
    ("UPDATE audit_events SET payload = 'null' WHERE case_id = :id AND seq = 2", 2),
    ("UPDATE audit_events SET actor = '7' WHERE case_id = :id AND seq = 2", 2),
    ("UPDATE audit_events SET personal = '[]' WHERE case_id = :id AND seq = 1", 1),
    ("UPDATE audit_events SET payload = jsonb_build_object('x', CAST(repeat('[', 3000) || repeat(']', 3000) AS jsonb))"
     " WHERE case_id = :id AND seq = 2", 2),
    # the times the driver stores datetime.max and .min as: an event at either reads back (and is altered here)
    ("UPDATE audit_events SET at = 'infinity' WHERE case_id = :id AND seq = 2", 2, True),
    ("UPDATE audit_events SET at = '-infinity' WHERE case_id = :id AND seq = 2", 2, True),
    ("UPDATE audit_events SET at = at - interval '4051 years' WHERE case_id = :id AND seq = 2", 2),
    ("UPDATE audit_events SET at = at + interval '8000 years' WHERE case_id = :id AND seq = 2", 2),
    ("DELETE FROM audit_events WHERE case_id = :id AND seq = 2", 3),  # event 3 where event 2 belongs
    ("UPDATE audit_events SET seq = 7 WHERE case_id = :id AND seq = 3", 7),
    ("UPDATE audit_events SET seq = -1 WHERE case_id = :id AND seq = 1", -1),
]


async def test_a_row_no_recording_step_writes_is_a_break_at_its_event(
        team: Team, settings: Settings, tmp_path: Path) -> None:
    broken, readable = {}, set()
    for statement, seq, *still_read in DAMAGE:
        case = await to_matching(team)
        await damage(team, statement, case["id"])
        broken[case["id"]] = seq
        if still_read:
            readable.add(case["id"])
    await assert_broken_at(team, settings, tmp_path, broken, frozenset(readable))


async def test_a_seq_held_twice_is_a_break_at_its_event(team: Team, settings: Settings, tmp_path: Path) -> None:
    case = await to_matching(team)
    await damage(team, "INSERT INTO audit_events SELECT case_id, seq, type, actor, at, stage_before, stage_after, "
                       "payload, prev_hash, md5(hash) || md5(hash), hash_version, personal, personal_salt, "
                       "personal_digest, key_id, signature FROM audit_events WHERE case_id = :id AND seq = 2",
                 case["id"], loosen="seq")
    await assert_broken_at(team, settings, tmp_path, {case["id"]: 2})


@pytest.mark.parametrize("snapshot", ["[]", "{}", '{"id": 5}', '"text"'])
async def test_a_case_whose_stored_record_is_no_case_is_a_409_not_a_500(team: Team, snapshot: str) -> None:
    """The read model's row (`cases.snapshot`, no trigger guards it) altered to JSON of another shape: the case, its
    history and the console's case page answer 409 naming the case; its audit trail still verifies. (The lists show
    it as damaged: tests/e2e/test_damaged_case_records.py.)"""
    case = await to_matching(team)
    assert team.engine is not None
    await damage_record(team.engine, case["id"], snapshot)
    for url in (f"/api/cases/{case['id']}", f"/api/cases/{case['id']}/history"):
        answer = await team.http.get(url, headers=team.headers(officer(SBIC)))  # the case is in their work
        assert answer.status_code == 409, f"{url}: {answer.text}"
        assert answer.json()["type"].endswith("unreplayable") and case["id"] in answer.json()["detail"], url
    async with team.browser(AUDITOR) as browser:
        assert (await browser.get(f"/cases/{case['id']}")).status_code == 409
