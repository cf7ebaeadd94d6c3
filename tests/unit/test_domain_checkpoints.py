"""Signed checkpoints (domain.checkpoints): Merkle roots and proofs, signatures, and the trails they contradict."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from domain.audit import GENESIS_HASH, AuditEntry, canonical_json, make_entry, sign
from domain.chain_verification import ChainReport, verify_chain
from domain.checkpoints import (
    UNHELD,
    Checkpoint,
    Head,
    anchor_of,
    anchored,
    held_through,
    inclusion_proof,
    make_checkpoint,
    merkle_root,
    root_from_proof,
    statement_digest,
    unheld,
)
from domain.signing import Keyring, Signer, raw_public
from infra.evidence_check import Keys, check_checkpoints, check_events, check_held

CASE_ID = "5b1f0c3e-8d2a-4c6b-9f4e-2a7d1e0b9c11"
OTHER = "00000000-0000-4000-8000-000000000001"
AT = datetime(2026, 11, 30, 2, 30, tzinfo=UTC)
KEY = Signer.from_seed(bytes(range(32)))
KEYRING = Keyring.of([KEY.public])


def trail(events: int) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    for seq in range(1, events + 1):
        entries.append(sign(make_entry(
            case_id=CASE_ID, seq=seq, type="add_note", actor={"id": "u-1"}, at=AT + timedelta(minutes=seq),
            stage_before="matching", stage_after="matching", payload={"text": f"note {seq}"},
            prev_hash=entries[-1].hash if entries else GENESIS_HASH,
        ), KEY))
    return entries


def heads_of(entries: list[AuditEntry]) -> list[Head]:
    return [Head(case_id=OTHER, seq=1, head_hash="a" * 64),
            Head(case_id=CASE_ID, seq=entries[-1].seq, head_hash=entries[-1].hash)]


@pytest.mark.parametrize("size", range(1, 18))
def test_every_leaf_has_a_proof_that_leads_to_the_root_and_no_other_leaf_does(size: int) -> None:
    leaves = [Head(case_id=f"case-{n}", seq=n + 1, head_hash=f"{n:064x}").leaf() for n in range(size)]
    root = merkle_root(leaves)
    for index, leaf in enumerate(leaves):
        proof = inclusion_proof(leaves, index)
        assert root_from_proof(leaf, index, size, proof) == root
        if size > 1:
            assert root_from_proof(leaves[(index + 1) % size], index, size, proof) != root


def test_a_checkpoint_is_signed_and_chained() -> None:
    first = make_checkpoint(1, AT, heads_of(trail(3)), None, KEY)
    second = make_checkpoint(2, AT + timedelta(days=1), heads_of(trail(4)), first.digest, KEY)
    assert first.problem(KEYRING) is None and second.problem(KEYRING) is None
    assert (first.prev, second.prev) == (GENESIS_HASH, first.digest)
    assert "altered" in (first.model_copy(update={"cases": 3}).problem(KEYRING) or "")
    assert "not a known audit key" in (first.problem(Keyring.of([Signer.from_seed(bytes(32)).public])) or "")


def verified(entries: list[AuditEntry], anchor_heads: list[Head], checkpoint_heads: list[Head] | None = None
             ) -> ChainReport:
    checkpoint = make_checkpoint(7, AT, anchor_heads, None, KEY)
    anchor = anchor_of(checkpoint, checkpoint_heads or anchor_heads, CASE_ID, KEYRING)
    return anchored(verify_chain(entries, KEYRING), [entry.hash for entry in entries], anchor)


def test_a_trail_that_grew_since_its_checkpoint_holds() -> None:
    entries = trail(5)
    assert verified(entries, heads_of(entries[:3])).valid


def test_a_trail_cut_short_after_its_checkpoint_is_broken_naming_the_checkpoint() -> None:
    entries = trail(5)
    report = verified(entries[:3], heads_of(entries))
    assert verify_chain(entries[:3], KEYRING).valid, "in itself the shortened trail is intact"
    assert (report.valid, report.first_broken_seq) == (False, 4)
    assert report.checkpoint == "checkpoint 7 of 2026-11-30T02:30:00.000000+00:00"
    assert "ends at event 3" in (report.reason or "") and "holds event 5" in (report.reason or "")


def test_a_trail_rewritten_by_the_key_holder_contradicts_its_checkpoint() -> None:
    entries = trail(3)
    other = sign(make_entry(case_id=CASE_ID, seq=3, type="add_note", actor={"id": "u-1"}, at=AT,
                            stage_before="matching", stage_after="matching", payload={"text": "other"},
                            prev_hash=entries[1].hash), KEY)
    report = verified([*entries[:2], other], heads_of(entries))
    assert (report.valid, report.first_broken_seq) == (False, 3) and "rewritten" in (report.reason or "")


def test_heads_altered_to_match_a_shortened_trail_do_not_give_the_signed_root() -> None:
    entries = trail(5)
    forged = heads_of(entries[:3])
    report = verified(entries[:3], heads_of(entries), checkpoint_heads=forged)
    assert not report.valid and "do not give its signed root" in (report.reason or "")


def test_the_verified_mark_is_signed_and_leaves_earlier_digests_as_they_were() -> None:
    entries = trail(2)
    heads = [Head(case_id=CASE_ID, seq=2, head_hash=entries[-1].hash)]
    plain = make_checkpoint(1, AT, heads, None, KEY)
    verified = make_checkpoint(1, AT, heads, None, KEY, verified=True)
    assert plain.digest == statement_digest(1, AT, 1, plain.root, GENESIS_HASH), "the digest of v1, unchanged"
    assert verified.digest != plain.digest and verified.problem(KEYRING) is None
    promoted = plain.model_copy(update={"verified": True})  # someone marks an unverified one as verified
    assert promoted.problem(KEYRING) == f"{plain.name} does not match its digest: it was altered"

    # The pack's own checker, which knows nothing of this module, agrees.
    public = [KEY.public.public_bytes_raw().hex()]
    events = [{"hash": e.hash} for e in entries]
    def pack_entry(checkpoint: Checkpoint) -> dict[str, object]:
        return {**checkpoint.model_dump(mode="json"), "head": heads[0].model_dump(), "proof": {"index": 0, "path": []}}
    assert check_checkpoints([pack_entry(verified), pack_entry(plain)], events, Keys(public)) == []
    (problem,) = check_checkpoints([pack_entry(promoted)], events, Keys(public))
    assert problem.endswith("it does not match its digest: it was altered")


def legacy(events: int, signed_from: int | None = None) -> list[AuditEntry]:
    """A trail of `events`, unsigned (as recorded before signing began) up to `signed_from`, signed from there."""
    entries: list[AuditEntry] = []
    for seq in range(1, events + 1):
        entry = make_entry(
            case_id=CASE_ID, seq=seq, type="add_note", actor={"id": "u-1"}, at=AT + timedelta(minutes=seq),
            stage_before="matching", stage_after="matching", payload={"text": f"note {seq}"},
            prev_hash=entries[-1].hash if entries else GENESIS_HASH,
        )
        entries.append(sign(entry, KEY) if signed_from is not None and seq >= signed_from else entry)
    return entries


def stripped(entries: list[AuditEntry], *seqs: int) -> list[AuditEntry]:
    """`entries` with the signature columns of `seqs` set to NULL, as the table's owner can."""
    return [e.model_copy(update={"key_id": None, "signature": None}) if e.seq in seqs else e for e in entries]


def test_unsigned_events_a_checkpoint_holds_are_valid_and_counted_unsigned() -> None:
    entries = legacy(3)
    report = verified(entries, heads_of(entries))
    assert (report.valid, report.unsigned, report.signed) == (True, 3, 0)
    grown = legacy(5, signed_from=4)  # signing began after the legacy checkpoint
    report = verified(grown, heads_of(grown[:3]))
    assert (report.valid, report.unsigned, report.signed) == (True, 3, 2)


def test_unsigned_events_no_checkpoint_holds_are_broken_at_the_first() -> None:
    report = anchored(verify_chain(legacy(3), KEYRING), [e.hash for e in legacy(3)], None)
    assert (report.valid, report.first_broken_seq, report.reason) == (False, 1, UNHELD)
    entries = legacy(5)  # an unsigned, correctly chained event appended after the legacy checkpoint
    report = verified(entries, heads_of(entries[:3]))
    assert (report.valid, report.first_broken_seq, report.reason) == (False, 4, UNHELD)
    assert report.checkpoint is None


def test_signatures_stripped_beyond_the_checkpoint_are_a_break_at_the_first_stripped_seq() -> None:
    entries = trail(5)
    every = stripped(entries, 1, 2, 3, 4, 5)  # the whole case stripped: it looks recorded before signing
    assert verify_chain(every, KEYRING).valid, "in itself the stripped trail is an intact unsigned one"
    report = verified(every, heads_of(entries[:3]))
    assert (report.valid, report.first_broken_seq, report.reason) == (False, 4, UNHELD)
    report = verified(stripped(entries, 5), heads_of(entries[:3]))  # only the last: signed ones before it
    assert (report.valid, report.first_broken_seq) == (False, 5) and "not signed" in (report.reason or "")
    report = verified(every, heads_of(entries))  # held: the checkpoint pinned every hash, signatures or not
    assert (report.valid, report.unsigned) == (True, 5)


def test_a_checkpoint_that_does_not_hold_holds_no_unsigned_event() -> None:
    entries = legacy(3)
    stranger = Signer.from_seed(bytes(range(1, 33)))
    checkpoint = make_checkpoint(7, AT, heads_of(entries), None, stranger)
    anchor = anchor_of(checkpoint, heads_of(entries), CASE_ID, KEYRING)
    assert held_through(anchor) == 0
    report = anchored(verify_chain(entries, KEYRING), [e.hash for e in entries], anchor)
    assert not report.valid and "not a known audit key" in (report.reason or "")


def test_an_unheld_unsigned_event_before_another_break_is_the_first_break() -> None:
    entries = legacy(5)
    entries[3] = entries[3].model_copy(update={"payload": {"text": "made up"}})
    found = verify_chain(entries, KEYRING)
    assert (found.first_broken_seq, found.unsigned) == (4, 3)
    report = verified(entries, heads_of(entries[:2]))
    assert (report.valid, report.first_broken_seq, report.reason) == (False, 3, UNHELD)
    report = verified(entries, heads_of(entries[:3]))
    assert report.first_broken_seq == 4 and "altered" in (report.reason or "")


@pytest.mark.parametrize(("unsigned", "held"), [(u, h) for u in range(4) for h in range(5)])
def test_the_pack_checker_holds_unsigned_events_as_the_domain_does(unsigned: int, held: int) -> None:
    """`infra.evidence_check.check_held` writes `domain.checkpoints.unheld` out again: the same seq, or none."""
    entries = legacy(4, signed_from=unsigned + 1)
    heads = heads_of(entries[:held]) if held else []
    checkpoint = make_checkpoint(7, AT, heads, None, KEY)
    anchor = anchor_of(checkpoint, heads, CASE_ID, KEYRING) if held else None
    domain = anchored(verify_chain(entries, KEYRING), [e.hash for e in entries], anchor)
    expected = unheld(verify_chain(entries, KEYRING), anchor)
    assert domain.first_broken_seq == expected
    events = [json.loads(canonical_json(e.model_dump(mode="json"))) for e in entries]
    problems, checked, counted = check_events([json.dumps(e) for e in events], Keys([raw_public(KEY.public).hex()]))
    assert (problems, counted) == ([], unsigned)
    pack = [{**checkpoint.model_dump(mode="json"), "head": heads[1].model_dump(),
             "proof": {"index": 1, "path": inclusion_proof([h.leaf() for h in heads], 1)}}] if held else []
    found = check_held(checked, counted, pack, Keys([raw_public(KEY.public).hex()]))
    assert found == ([] if expected is None else [f"events.jsonl line {expected} (event {expected}): it is unsigned "
                                                  "and not held by any checkpoint of the pack: not written by the "
                                                  "Case Desk"])
