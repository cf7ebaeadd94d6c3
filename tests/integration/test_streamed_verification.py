"""The streamed verifier of the whole trail (`verify_every_chain`: one cursor, signatures checked in bulk by
threads) gives every case the verdict `verify_chain` gives it alone, whatever the fetch size cuts, checking each
signature or only each case's head's (which vouches for the chain before it); a forger who rewrites a chain from
the middle on is named at the seq of the first event they wrote either way."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.audit import GENESIS_HASH, AuditEntry, make_entry, sign
from domain.chain_verification import verify_chain
from domain.checkpoints import Head, anchored
from domain.signing import AuditKeys, Keyring, Signer
from infra.audit_trail import stored_entries
from infra.checkpoints import take_checkpoint
from infra.db import session_factory
from infra.stored_checkpoints import latest_anchors
from infra.streamed_verification import verify_every_chain
from infra.tables import audit_events
from tests.helpers.audit_cli import as_table_owner

SIGNER = Signer.from_seed(bytes(range(1, 33)))
STRANGER = Signer.from_seed(bytes(range(2, 34)))
KEYRING = Keyring.of([SIGNER.public])
HEADER = {"case_id", "type", "actor", "at", "stage_before", "stage_after"}


def chain(signers: list[Signer | None]) -> list[AuditEntry]:
    case_id, prev, start = str(uuid.uuid4()), GENESIS_HASH, datetime(2026, 4, 1, tzinfo=UTC)
    entries = []
    for seq, signer in enumerate(signers, start=1):
        entry = make_entry(case_id=case_id, seq=seq, type="add_note", actor={"id": "u1", "role": "coordinator"},
                           at=start + timedelta(hours=seq), stage_before="screening", stage_after="screening",
                           payload={"text": f"note {seq} — 日本語"}, prev_hash=prev, salt=f"{seq:032x}")
        entries.append(sign(entry, signer) if signer else entry)
        prev = entry.hash
    return entries


@pytest.mark.parametrize("every", [True, False], ids=["every signature", "head signatures"])
async def test_streamed_verdicts_are_the_per_case_ones(engine: AsyncEngine, every: bool) -> None:
    good = chain([SIGNER] * 7)
    # Signed by the key holder after a stranger's event: never written by the desk, whose writers chain only
    # onto events they know it signed. Only the check of each signature looks inside; the head vouches for it.
    forged_middle = chain([SIGNER, SIGNER, STRANGER, SIGNER, SIGNER])
    forged_tail = chain([SIGNER, SIGNER, SIGNER, STRANGER])
    before_signing = chain([None, None, SIGNER, SIGNER])
    unsigned_after_signed = chain([SIGNER, None, SIGNER])
    altered = chain([SIGNER] * 5)
    altered[1] = altered[1].model_copy(update={"payload": {"text": "made up"}})
    # a bad signature (event 2) before a broken link (event 4): the signature is the first break
    both = chain([SIGNER, STRANGER, SIGNER, SIGNER, SIGNER])
    both[3] = both[3].model_copy(update={"prev_hash": GENESIS_HASH})
    trails = [good, forged_middle, forged_tail, before_signing, unsigned_after_signed, altered, both]
    async with engine.begin() as conn:
        for entries in trails:
            await conn.execute(insert(audit_events).values([e.model_dump() for e in entries]))
    sessions = session_factory(engine)
    expected = {entries[0].case_id: anchored(verify_chain(stored, KEYRING, every_signature=every),
                                             [e.hash for e in stored], None)
                for entries in trails for stored in [await stored_entries(sessions, entries[0].case_id)]}
    # before_signing: its unsigned events 1 and 2 are held by no checkpoint (none is taken here)
    assert [expected[t[0].case_id].first_broken_seq for t in trails] == [None, 3 if every else None, 4, 1, 2, 2, 2]

    for rows_per_fetch, threads in [(3, 2), (4, 1), (1000, 3)]:
        found = {case_id: report async for case_id, report in
                 verify_every_chain(sessions, KEYRING, rows_per_fetch=rows_per_fetch, threads=threads,
                                    every_signature=every)
                 if case_id in expected}  # the session's database holds other tests' cases too
        assert found == expected, (rows_per_fetch, threads)
    assert expected[before_signing[0].case_id].unsigned == 2
    assert expected[good[0].case_id].signed == 7


@dataclass(frozen=True)
class CountingKeyring(Keyring):
    """The real keyring, counting the signatures it is asked to check."""

    checked: list[int] = field(default_factory=list)

    def check_all(self, context: bytes, items: Sequence[tuple[str, str | None, str | None]]) -> list[str | None]:
        self.checked.append(len(items))
        return super().check_all(context, items)


async def test_a_chain_rewritten_from_the_middle_is_named_at_the_forged_seq_by_the_head_signature_path(
    engine: AsyncEngine,
) -> None:
    """A forger with the table (no key) replaces event 3 and recomputes every later hash so the chain links: the
    head's signature no longer holds, so the case is checked event by event and event 3 is named. An intact case
    costs one signature check, its head's."""
    rewritten, intact = chain([SIGNER] * 6), chain([SIGNER] * 6)
    prev = rewritten[1].hash
    for seq in range(3, 7):
        fields = rewritten[seq - 1].model_dump(include=HEADER)
        text = "the applicant withdrew by phone" if seq == 3 else f"note {seq} — 日本語"
        made = make_entry(**fields, seq=seq, prev_hash=prev, payload={"text": text}, salt=f"{seq:032x}")
        old = rewritten[seq - 1]  # the forger keeps the old signature columns: they no longer hold
        rewritten[seq - 1] = made.model_copy(update={"key_id": old.key_id, "signature": old.signature})
        prev = made.hash
    async with engine.begin() as conn:
        for entries in (rewritten, intact):
            await conn.execute(insert(audit_events).values([e.model_dump() for e in entries]))
    sessions = session_factory(engine)
    keyring = CountingKeyring(KEYRING.keys)
    mine = {rewritten[0].case_id, intact[0].case_id}
    found = {c: r async for c, r in verify_every_chain(sessions, keyring, every_signature=False) if c in mine}
    assert (found[rewritten[0].case_id].valid, found[rewritten[0].case_id].first_broken_seq) == (False, 3)
    assert "does not hold" in (found[rewritten[0].case_id].reason or "")
    assert (found[intact[0].case_id].valid, found[intact[0].case_id].signed) == (True, 6)
    alone = CountingKeyring(KEYRING.keys)
    assert verify_chain(await stored_entries(sessions, intact[0].case_id), alone, every_signature=False).valid
    assert alone.checked == [1], "an intact chain costs its head's signature only"
    assert verify_chain(await stored_entries(sessions, rewritten[0].case_id), alone,
                        every_signature=False).first_broken_seq == 3


async def test_after_a_verified_checkpoint_only_later_signatures_are_checked_but_every_hash_still_is(
    engine: AsyncEngine,
) -> None:
    """The nightly run (`starts`: the latest verified checkpoints) spares the signatures it verified before,
    never the hashes: an old event altered is still found; a forged event after the checkpoint is found; only a
    full verification looks at an old event's signature column again."""
    keys = AuditKeys(SIGNER, KEYRING)
    old, tail_forged, altered = chain([SIGNER] * 4), chain([SIGNER] * 3), chain([SIGNER] * 3)
    async with engine.begin() as conn:
        for entries in (old, tail_forged, altered):
            await conn.execute(insert(audit_events).values([e.model_dump() for e in entries]))
    mine = {old[0].case_id, tail_forged[0].case_id, altered[0].case_id}
    sessions = session_factory(engine)
    heads: list[Head] = []
    assert all([r.valid async for c, r in verify_every_chain(sessions, KEYRING, heads=heads) if c in mine])
    await take_checkpoint(engine, keys, None, datetime.now(UTC), verified=[h for h in heads if h.case_id in mine])

    forged = sign(make_entry(**{**tail_forged[-1].model_dump(include=HEADER), "seq": 4},
                             prev_hash=tail_forged[-1].hash, payload={"text": "made up"}), STRANGER)
    async with engine.begin() as conn:
        await conn.execute(insert(audit_events).values(forged.model_dump()))
    await as_table_owner(engine, "UPDATE audit_events SET signature = repeat('ab', 64) WHERE case_id = :id "
                                 "AND seq = 2", id=old[0].case_id)
    await as_table_owner(engine, "UPDATE audit_events SET payload = '{\"text\": \"forged\"}' WHERE case_id = :id "
                                 "AND seq = 2", id=altered[0].case_id)

    anchors = await latest_anchors(engine, KEYRING)
    starts = await latest_anchors(engine, KEYRING, verified=True)
    nightly = {c: r async for c, r in verify_every_chain(sessions, KEYRING, anchors, starts=starts,
                                                         every_signature=False) if c in mine}
    full = {c: r async for c, r in verify_every_chain(sessions, KEYRING, anchors) if c in mine}
    assert (nightly[old[0].case_id].valid, nightly[old[0].case_id].signed) == (True, 4)
    assert (full[old[0].case_id].first_broken_seq, full[old[0].case_id].valid) == (2, False)
    for report in (nightly, full):
        assert (report[tail_forged[0].case_id].first_broken_seq, report[altered[0].case_id].first_broken_seq) == (4, 2)
        assert "not a known audit key" in (report[tail_forged[0].case_id].reason or "")
        assert "altered" in (report[altered[0].case_id].reason or "")


async def test_events_as_postgresql_prints_them_hash_as_the_recording_step_hashed_them(engine: AsyncEngine) -> None:
    """The fast hashing of the text PostgreSQL prints for jsonb (`domain.stored_events`) against the hashes the
    recording step made: floats small and large, integers beyond 64 bits, non-ASCII, control characters, nesting."""
    payloads: list[dict[str, object]] = [
        {"score": 0.95, "tiny": 1e-05, "tinier": 1.5e-07, "ratio": 123.456, "neg": -0.0001},
        {"big": 2**80, "neg_big": -(2**70), "edge": 2**63 - 1, "edge_up": 2**63, "id": "1010001000000"},
        {"text": "佐藤 健二\u2028 \x7f\x1f \"quoted\" \\ back", "emoji": "😀", "width": "ａｂｃ", "e-mail": "1e-5"},
        {"nested": {"z": [1, {"b": None, "a": True}], "ä": {"é": [], "e": {}}}, "list": [[[]]], "empty": ""},
    ]
    case_id, prev, at = str(uuid.uuid4()), GENESIS_HASH, datetime(2026, 4, 1, 9, 0, 0, 123456, tzinfo=UTC)
    entries = []
    for seq, payload in enumerate(payloads, start=1):
        entry = sign(make_entry(case_id=case_id, seq=seq, type="add_note", actor={"id": "u-ü", "role": "coordinator"},
                                at=at + timedelta(microseconds=seq * 7), stage_before="matching",
                                stage_after="matching", payload={**payload, "contact": {"name": "Ａｎｎａ"}},
                                prev_hash=prev, salt=f"{seq:032x}"), SIGNER)
        entries.append(entry)
        prev = entry.hash
    async with engine.begin() as conn:
        await conn.execute(insert(audit_events).values([e.model_dump() for e in entries]))
    for every in (True, False):
        found = [r async for c, r in verify_every_chain(session_factory(engine), KEYRING, every_signature=every)
                 if c == case_id]
        assert [(r.valid, r.signed, r.reason) for r in found] == [(True, 4, None)], every
