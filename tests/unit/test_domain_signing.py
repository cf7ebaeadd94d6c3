"""Signed audit events (domain.signing, domain.audit.sign): who wrote an event, checked with public keys only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from domain.audit import GENESIS_HASH, REDACTION_EVENT, AuditEntry, make_entry, redact, sign
from domain.chain_verification import verify_chain
from domain.signing import Keyring, Signer

CASE_ID = "5b1f0c3e-8d2a-4c6b-9f4e-2a7d1e0b9c11"
T0 = datetime(2026, 4, 6, 0, 0, tzinfo=UTC)
OLD, NEW, OUTSIDER = (Signer.from_seed(bytes([n] * 16 + list(range(16)))) for n in (1, 2, 3))
CONTACT = {"contact": {"name": "Anna Schmidt", "email": "anna@acme.example", "language": "en"}}


def event(seq: int, prev: str, payload: dict[str, Any] | None = None, kind: str = "add_note") -> AuditEntry:
    return make_entry(case_id=CASE_ID, seq=seq, type=kind, actor={"id": "u-1"}, at=T0 + timedelta(minutes=seq),
                      stage_before="matching", stage_after="matching", payload=payload or {"text": f"note {seq}"},
                      prev_hash=prev, salt=f"{seq:032x}")


def trail(signers: list[Signer | None]) -> list[AuditEntry]:
    """One event per signer (None: unsigned, as recorded before signing began)."""
    entries: list[AuditEntry] = []
    for seq, signer in enumerate(signers, start=1):
        made = event(seq, entries[-1].hash if entries else GENESIS_HASH)
        entries.append(sign(made, signer) if signer else made)
    return entries


def test_every_event_signed_by_the_current_key_verifies() -> None:
    report = verify_chain(trail([NEW, NEW, NEW]), Keyring.of([NEW.public]))
    assert (report.valid, report.signed, report.unsigned) == (True, 3, 0)


def test_a_forged_event_chained_without_the_key_is_found_at_its_seq() -> None:
    entries = trail([NEW, NEW])
    forged = event(3, entries[-1].hash, {"text": "made up"})
    report = verify_chain([*entries, forged], Keyring.of([NEW.public]))
    assert (report.valid, report.first_broken_seq) == (False, 3)
    assert "not signed" in (report.reason or "")


def test_an_event_signed_with_a_key_the_desk_does_not_know_is_found() -> None:
    entries = trail([NEW, NEW, OUTSIDER])
    report = verify_chain(entries, Keyring.of([NEW.public]))
    assert (report.valid, report.first_broken_seq) == (False, 3)
    assert "not a known audit key" in (report.reason or "")


def test_a_rewritten_chain_with_recomputed_hashes_fails_at_the_first_rewritten_event() -> None:
    entries = trail([NEW, NEW, NEW])
    second = event(2, entries[0].hash, {"text": "rewritten"})
    third = event(3, second.hash)
    keep = {"key_id": entries[1].key_id, "signature": entries[1].signature}
    rewritten = [entries[0], second.model_copy(update=keep), third.model_copy(
        update={"key_id": entries[2].key_id, "signature": entries[2].signature})]
    assert verify_chain(rewritten).valid, "the hashes alone hold: only the signatures tell"
    report = verify_chain(rewritten, Keyring.of([NEW.public]))
    assert (report.valid, report.first_broken_seq) == (False, 2)
    assert "signature does not hold" in (report.reason or "")


def test_events_from_before_signing_are_unsigned_not_broken() -> None:
    report = verify_chain(trail([None, None, NEW]), Keyring.of([NEW.public]))
    assert (report.valid, report.signed, report.unsigned) == (True, 1, 2)


def test_an_unsigned_event_after_a_signed_one_is_a_break() -> None:
    report = verify_chain(trail([None, NEW, None]), Keyring.of([NEW.public]))
    assert (report.valid, report.first_broken_seq, report.unsigned) == (False, 3, 1)


def test_after_rotation_the_old_key_still_verifies_what_it_signed() -> None:
    entries = trail([OLD, OLD, NEW])
    assert verify_chain(entries, Keyring.of([NEW.public, OLD.public])).valid
    dropped = verify_chain(entries, Keyring.of([NEW.public]))
    assert (dropped.valid, dropped.first_broken_seq) == (False, 1)
    assert OLD.key_id in (dropped.reason or "")


def test_a_redacted_signed_trail_still_verifies() -> None:
    filed = sign(event(1, GENESIS_HASH, {"company": "Acme GmbH", **CONTACT}, kind="filed"), NEW)
    erasure = sign(event(2, filed.hash, {"events": [1]}, kind=REDACTION_EVENT), NEW)
    report = verify_chain([redact(filed), erasure], Keyring.of([NEW.public]))
    assert (report.valid, report.signed) == (True, 2)


def test_signing_is_deterministic_so_a_retried_step_writes_the_same_row() -> None:
    made = event(1, GENESIS_HASH)
    assert sign(made, NEW) == sign(made, NEW)


def test_published_keys_carry_their_ids() -> None:
    published = Keyring.of([NEW.public, OLD.public]).published()
    assert {key["key_id"] for key in published} == {NEW.key_id, OLD.key_id}
    assert all(len(key["public_key"]) == 64 and key["algorithm"] == "Ed25519" for key in published)
