"""The whole-trail verifier's COPY rows (`domain.stored_rows`), read from the real PostgreSQL: a row of odd content
(tabs, newlines, backslashes and control characters that COPY escapes, non-ASCII, integers beyond 64 bits, tiny
floats, JSON nulls, times whose printed fraction is cut short or absent, personal data kept and redacted) links and
hashes by the bytes exactly as the recording step hashed it, and parses back to the very event; an altered row is
left to the exact path, which names it as `verify_chain` does."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.audit import GENESIS_HASH, REDACTION_EVENT, AuditEntry, canonical_time, make_entry, redact, sign
from domain.chain_rows import Canonical, quick_links
from domain.chain_verification import chain_links, verify_chain
from domain.signing import Keyring, Signer
from domain.stored_rows import Row, event_row
from infra.audit_trail import stored_entries
from infra.db import session_factory
from infra.streamed_verification import _every_case, verify_every_chain
from infra.tables import audit_events
from tests.helpers.audit_cli import as_table_owner

SIGNER = Signer.from_seed(bytes(range(3, 35)))
KEYRING = Keyring.of([SIGNER.public])
ODD: list[dict[str, Any]] = [
    {"text": "tab\there, newline\nthere, back\\slash, \"quoted\", bell \x07, \x7f \u2028 日本語 😀", "contact": {
        "name": "Ａｎｎａ \\N Müller", "email": "a@example.jp"}},
    {"big": 2**80, "neg_big": -(2**70), "tiny": 1.5e-07, "small": 1e-05, "huge": 1e300, "null": None, "e": "1e-5",
     "contact": {"name": "O'Brien\tJr.", "size": 2**66, "ratio": 1e-06}},
    {"nested": {"z": [1, {"b": None, "a": True}], "ä": {"é": [], "e": {}}}, "empty": "", "slash": "\\t\\n"},
    {"events": [1], "reason": "retention period over"},
]
TIMES = [datetime(2026, 4, 1, 9, 0, 0, tzinfo=UTC), datetime(2026, 4, 1, 9, 0, 0, 500000, tzinfo=UTC),
         datetime(1999, 12, 31, 23, 59, 59, 1, tzinfo=UTC), datetime(2026, 4, 2, 0, 0, 0, 120000, tzinfo=UTC)]


def odd_chain() -> list[AuditEntry]:
    case_id, prev, entries = str(uuid.uuid4()), GENESIS_HASH, []
    for seq, (payload, at) in enumerate(zip(ODD, TIMES, strict=True), start=1):
        kind = REDACTION_EVENT if seq == len(ODD) else "add_note"
        entry = sign(make_entry(case_id=case_id, seq=seq, type=kind, at=at, stage_before=None if seq == 1 else "x\ty",
                                actor={"id": "u-ü\\1", "name": "佐藤\t健二", "role": "coordinator"},
                                stage_after="x\ty", payload=payload, prev_hash=prev, salt=f"{seq:032x}"), SIGNER)
        entries.append(entry)
        prev = entry.hash
    entries[0] = redact(entries[0])  # the contact erased, as the last event records
    return entries


async def copy_rows(engine: AsyncEngine, case_id: str) -> list[Row]:
    found = [rows async for cases in _every_case(session_factory(engine), 3) for cid, rows in cases if cid == case_id]
    assert len(found) == 1
    return found[0]


async def test_odd_rows_hash_by_their_bytes_as_the_recording_step_hashed_them(registry: AsyncEngine) -> None:
    entries = odd_chain()
    async with registry.begin() as conn:
        await conn.execute(insert(audit_events).values([e.model_dump() for e in entries]))
    rows = await copy_rows(registry, entries[0].case_id)
    parsed = [event_row(row) for row in rows]
    assert [(e.seq, e.hash, e.personal_digest, e.key_id, e.signature) for e in parsed] == [
        (e.seq, e.hash, e.personal_digest, e.key_id, e.signature) for e in entries]
    assert [(json.loads(e.actor), json.loads(e.payload), e.at, e.stage_before, e.stage_after) for e in parsed] == [
        (e.actor, e.payload, canonical_time(e.at), e.stage_before, e.stage_after) for e in entries]
    assert parsed[0].personal is None and parsed[1].personal is not None
    assert json.loads(parsed[1].personal) == entries[1].personal
    linked = quick_links(rows, Canonical())
    assert linked is not None, "every event holds: the quick path must say so"
    assert linked == (*chain_links(await stored_entries(session_factory(registry), entries[0].case_id)),
                      [e.hash for e in entries])


async def test_an_altered_row_is_named_as_verify_chain_names_it(registry: AsyncEngine) -> None:
    entries = odd_chain()
    async with registry.begin() as conn:
        await conn.execute(insert(audit_events).values([e.model_dump() for e in entries]))
    await as_table_owner(registry, "UPDATE audit_events SET payload = jsonb_set(payload, '{big}', '1') "
                                 "WHERE case_id = :id AND seq = 2", id=entries[0].case_id)
    assert quick_links(await copy_rows(registry, entries[0].case_id), Canonical()) is None
    sessions = session_factory(registry)
    expected = verify_chain(await stored_entries(sessions, entries[0].case_id), KEYRING, every_signature=False)
    assert (expected.first_broken_seq, expected.valid) == (2, False)
    found = [r async for c, r in verify_every_chain(sessions, KEYRING, every_signature=False)
             if c == entries[0].case_id]
    assert found == [expected]


async def test_a_reader_that_stops_early_leaves_the_connection_usable(registry: AsyncEngine) -> None:
    """Closing the verifier mid-trail stops its COPY; the next verification runs on the same pool."""
    for _ in range(2):
        entries = odd_chain()
        async with registry.begin() as conn:
            await conn.execute(insert(audit_events).values([e.model_dump() for e in entries]))
    sessions = session_factory(registry)
    reports = verify_every_chain(sessions, KEYRING, every_signature=False, rows_per_fetch=1)
    assert (await anext(reports))[1].events > 0
    await reports.aclose()
    assert [r async for _, r in verify_every_chain(sessions, KEYRING, every_signature=False)]


async def test_an_event_at_an_infinite_time_is_named_as_verify_chain_names_it(registry: AsyncEngine) -> None:
    """An infinite `at` (no event is recorded at one; a forged row may hold it) breaks its case and no other: the
    whole-trail verifier once failed on it (`to_char` prints it as nothing), so no case was verified at all, and
    the per-case one on '-infinity' (asyncpg reads it as naive year 1, which has no UTC form)."""
    chains = [odd_chain() for _ in range(3)]
    async with registry.begin() as conn:
        await conn.execute(insert(audit_events).values([e.model_dump() for c in chains for e in c]))
    for entries, at in zip(chains, ["infinity", "-infinity"], strict=False):
        await as_table_owner(registry, f"UPDATE audit_events SET at = '{at}' WHERE case_id = :id AND seq = 2",
                             id=entries[0].case_id)
    sessions = session_factory(registry)
    found = dict([r async for r in verify_every_chain(sessions, KEYRING, every_signature=False)])
    for entries in chains:
        expected = verify_chain(await stored_entries(sessions, entries[0].case_id), KEYRING, every_signature=False)
        assert found[entries[0].case_id] == expected
    assert [found[c[0].case_id].first_broken_seq for c in chains] == [2, 2, None]


async def test_a_lone_number_payload_hashed_as_orjson_prints_it_is_no_intact_event(registry: AsyncEngine) -> None:
    """A forged event whose payload is a lone number (2**64), hashed over orjson's `1.8446744073709552e+19` where
    the recording step's canonical JSON holds the integer: the quick path once found such a chain intact."""
    entry = make_entry(case_id=str(uuid.uuid4()), seq=1, type="add_note", actor={"id": "u"}, at=TIMES[0],
                       stage_before=None, stage_after="x", payload={}, prev_hash=GENESIS_HASH)
    content = json.dumps({"actor": entry.actor, "at": canonical_time(entry.at), "case_id": entry.case_id,
                          "payload": 2**64, "seq": 1, "stage_after": "x", "stage_before": None, "type": "add_note"},
                         sort_keys=True, separators=(",", ":")).replace(str(2**64), "1.8446744073709552e+19")
    forged = hashlib.sha256((GENESIS_HASH + content).encode()).hexdigest()
    async with registry.begin() as conn:
        await conn.execute(insert(audit_events).values(entry.model_dump()))
    await as_table_owner(registry, f"UPDATE audit_events SET payload = '{2**64}', hash = :hash WHERE case_id = :id",
                         id=entry.case_id, hash=forged)
    found = [r async for c, r in verify_every_chain(session_factory(registry), KEYRING) if c == entry.case_id]
    assert [(r.valid, r.first_broken_seq) for r in found] == [(False, 1)]


@pytest.mark.parametrize("moved", [
    "at - interval '4051 years'",  # 2026 AD -> 2026 BC, which to_char's YYYY prints as 2026
    "'infinity'", "'-infinity'", "at + interval '8000 years'",
])
async def test_an_event_moved_to_a_time_no_recording_step_gives_is_named(registry: AsyncEngine, moved: str) -> None:
    """Seen: an event moved to the same instant BC verified intact, signatures and all (and `infinity` stopped
    the verifier with an AssertionError); it is altered, at its seq. (A database of its own: the per-case
    reader cannot decode a time BC, and other tests read the whole trail.)"""
    engine, entries = registry, odd_chain()
    async with engine.begin() as conn:
        await conn.execute(insert(audit_events).values([e.model_dump() for e in entries]))
    await as_table_owner(engine, f"UPDATE audit_events SET at = {moved} WHERE case_id = :id AND seq = 2",
                         id=entries[0].case_id)
    found = [r async for c, r in verify_every_chain(session_factory(engine), KEYRING) if c == entries[0].case_id]
    assert [(r.valid, r.first_broken_seq, r.reason) for r in found] == [
        (False, 2, "its content does not match its hash: the event was altered")]


@pytest.mark.parametrize(("column", "kind"), [("payload", "add_note"), ("payload", REDACTION_EVENT),
                                              ("actor", "add_note"), ("personal", "add_note")])
async def test_json_nested_deeper_than_any_recorded_event_is_named_not_a_crash(
        registry: AsyncEngine, column: str, kind: str) -> None:
    """Seen: one event's payload set to {"x": [[[…]]]} 3,000 deep (jsonb takes it) stopped the whole-trail verifier
    with a RecursionError (json.loads): no verdict for any case. It is altered, at its seq. (The per-case reader,
    whose driver decodes jsonb, still fails on it.)"""
    engine, entries = registry, odd_chain()
    async with engine.begin() as conn:
        await conn.execute(insert(audit_events).values([e.model_dump() for e in entries]))
    await as_table_owner(engine, f"UPDATE audit_events SET {column} = jsonb_build_object('x', CAST(:deep AS jsonb)), "
                                 "type = :kind WHERE case_id = :id AND seq = 2",
                         id=entries[0].case_id, deep="[" * 3000 + "]" * 3000, kind=kind)
    found = [r async for c, r in verify_every_chain(session_factory(engine), KEYRING) if c == entries[0].case_id]
    reason = "its personal data does not match its digest: the personal data was altered" if column == "personal" \
        else "its content does not match its hash: the event was altered"
    assert [(r.valid, r.first_broken_seq, r.reason) for r in found] == [(False, 2, reason)]


@pytest.mark.parametrize("at", [datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
                                datetime(999, 6, 15, 12, 0, 0, 1, tzinfo=UTC),
                                datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
                                datetime(2026, 12, 31, 15, 0, tzinfo=UTC)])
async def test_times_at_the_ends_of_the_years_python_keeps_verify_both_ways(registry: AsyncEngine, at: datetime,
                                                                           ) -> None:
    """A recorded time in year 1, before 1000 or in 9999 (and one of no fraction), and a stage_before that is the
    text 'null' beside one that is NULL: intact for the whole-trail verifier, by its quick path, and per case.
    Seen: 9999-12-31 23:59:59.999999 (datetime.max), which the driver stores as `infinity`, was altered for the
    whole-trail verifier and intact per case. (datetime.min, stored as `-infinity`, is intact for the whole-trail
    verifier, but the driver cannot read it back per case: ValueError, year 0.)"""
    case_id, prev, entries = str(uuid.uuid4()), GENESIS_HASH, []
    for seq, before in enumerate([None, "null"], start=1):
        entry = sign(make_entry(case_id=case_id, seq=seq, type="add_note", at=at, stage_before=before,
                                actor={"id": "u1"}, stage_after="null", payload={"n": seq}, prev_hash=prev), SIGNER)
        entries.append(entry)
        prev = entry.hash
    async with registry.begin() as conn:
        await conn.execute(insert(audit_events).values([e.model_dump() for e in entries]))
    assert quick_links(await copy_rows(registry, case_id), Canonical()) is not None
    sessions = session_factory(registry)
    found = [r async for c, r in verify_every_chain(sessions, KEYRING) if c == case_id]
    assert found == [verify_chain(await stored_entries(sessions, case_id), KEYRING)]
    assert found[0].valid and found[0].signed == 2
