"""Signed events: someone who can write the database but does not hold the key cannot extend or rewrite a trail."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.audit import AuditEntry, make_entry
from infra.audit_trail import stored_entries
from infra.export_check import check_export
from infra.settings import Settings
from infra.tables import audit_events
from tests.helpers.desk import Desk
from tests.helpers.people import APPLICANT, AUDITOR, COORDINATOR
from tests.helpers.scenarios import to_matching


def next_event(last: dict[str, Any], note: str) -> AuditEntry:
    """The next event as the product's own hashing makes it (what a forger with database access can do)."""
    return make_entry(
        case_id=last["case_id"], seq=last["seq"] + 1, type="add_note", actor=last["actor"], at=datetime.now(UTC),
        stage_before=last["stage_after"], stage_after=last["stage_after"], payload={"text": note},
        prev_hash=last["hash"],
    )


async def test_every_recorded_event_is_signed_with_a_published_key(desk: Desk) -> None:
    case = await to_matching(desk)
    report = await desk.verify(case["id"], AUDITOR)
    assert report == {"valid": True, "events": 3, "first_broken_seq": None, "reason": None, "signed": 3,
                      "unsigned": 0, "checkpoint": None}
    keys = (await desk.http.get("/api/audit/keys", headers=desk.headers(APPLICANT))).json()["keys"]
    (current,) = [key for key in keys if key["current"]]
    assert current["algorithm"] == "Ed25519" and len(current["public_key"]) == 64
    history = await desk.history(case["id"], AUDITOR)
    assert {event["key_id"] for event in history} == {current["key_id"]}


async def test_a_forged_event_inserted_as_the_application_user_is_found_at_its_seq(
    desk: Desk, engine: AsyncEngine
) -> None:
    case = await to_matching(desk)
    last = (await desk.history(case["id"], AUDITOR))[-1]
    forged = next_event(last, "the applicant withdrew by phone")
    async with engine.begin() as conn:  # the append-only guard allows inserts: the forger needs no more
        await conn.execute(insert(audit_events).values(**forged.model_dump()))

    report = await desk.verify(case["id"], AUDITOR)
    assert (report["valid"], report["first_broken_seq"]) == (False, 4)
    assert "not signed" in report["reason"]
    assert (await desk.verify(case, COORDINATOR))["first_broken_seq"] == 4


async def test_a_forged_event_signed_with_another_key_is_found(desk: Desk, engine: AsyncEngine) -> None:
    case = await to_matching(desk)
    last = (await desk.history(case["id"], AUDITOR))[-1]
    stranger = Settings(_env_file=None, token_pepper="someone-else", audit_signing_key=None).audit_keys.signer
    forged = next_event(last, "made up")
    forged = forged.model_copy(update={"key_id": stranger.key_id,
                                       "signature": stranger.sign(b"case-desk/audit-event/v1:", forged.hash)})
    async with engine.begin() as conn:
        await conn.execute(insert(audit_events).values(**forged.model_dump()))
    report = await desk.verify(case["id"], AUDITOR)
    assert (report["valid"], report["first_broken_seq"]) == (False, 4)
    assert "not a known audit key" in report["reason"]


async def test_a_whole_chain_rewritten_with_recomputed_hashes_is_found(
    desk: Desk, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    case = await to_matching(desk)
    stored = await stored_entries(sessions, case["id"])
    rewritten: list[AuditEntry] = [stored[0]]
    for event in stored[1:]:  # every later hash recomputed, as the product computes them; no key to sign with
        payload = {**event.payload, "note": "rewritten"} if event.seq == 2 else event.payload
        rewritten.append(make_entry(
            **event.model_dump(include={"case_id", "seq", "type", "actor", "at", "stage_before", "stage_after"}),
            payload=payload, prev_hash=rewritten[-1].hash, salt="0" * 32,
        ))
    async with engine.begin() as conn:  # as the table's owner, the guard switched off for a moment
        await conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete"))
        for event in rewritten[1:]:
            await conn.execute(
                update(audit_events).where(audit_events.c.case_id == event.case_id, audit_events.c.seq == event.seq)
                .values(payload=event.payload, prev_hash=event.prev_hash, hash=event.hash)
            )
        await conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete"))

    report = await desk.verify(case["id"], AUDITOR)
    assert (report["valid"], report["first_broken_seq"]) == (False, 2)
    assert "signature does not hold" in report["reason"]


async def test_exports_carry_signatures_and_keys_and_a_forged_signature_fails_their_check(desk: Desk) -> None:
    case = await to_matching(desk)
    answer = await desk.http.get("/api/audit/export", params={"case": case["id"]}, headers=desk.headers(AUDITOR))
    assert answer.status_code == 200 and check_export(answer.content).ok
    *lines, last = answer.content.decode().splitlines()
    manifest = json.loads(last)["manifest"]
    events = [json.loads(line) for line in lines]
    assert {key["key_id"] for key in manifest["keys"]} >= {e["key_id"] for e in events}
    assert all(len(e["signature"]) == 128 for e in events)

    forged = dict(events[1], signature=events[0]["signature"])  # a real signature, of another event
    body = "".join(json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n"
                   for e in [events[0], forged, *events[2:]]).encode()
    manifest["sha256"] = hashlib.sha256(body).hexdigest()  # the manifest rewritten to match
    check = check_export(body + json.dumps({"manifest": manifest}).encode() + b"\n")
    assert not check.ok and "signature does not hold" in (check.why or "")
