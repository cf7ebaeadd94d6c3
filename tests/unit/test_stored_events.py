"""The verifiers' fast hashing (`domain.stored_events`, orjson where it is proven identical) gives the very bytes
of `domain.audit`'s canonical JSON, over generated events: non-ASCII and control characters, floats of every
size, integers beyond 64 bits, nested objects and arrays. The texts are printed the way PostgreSQL prints jsonb
(`, ` and `: `) or compactly; `tests/integration/test_streamed_verification.py` does the same through PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.audit import GENESIS_HASH, canonical_json, canonical_time, make_entry, personal_digest
from domain.chain_verification import EventRow
from domain.stored_events import canonical_text, stored_content, stored_link_problem, stored_personal

scalars = (st.none() | st.booleans() | st.text() | st.integers() | st.integers(min_value=-2**70, max_value=2**70)
           | st.floats(allow_nan=False, allow_infinity=False)
           | st.sampled_from([1e-05, 1e-7, 0.0001, 1e16, 1e15, 1.5e300, 5e-324, -0.0, 2.0**63, 0.95, 100.0]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner,
                                                                                           max_size=4), max_leaves=12)
objects = st.dictionaries(st.text(), values, max_size=6)
texts = st.text() | st.sampled_from(["日本語", "Müller", "\u2028", "\x7f\x1f", "😀", "ａｂｃ", "1.5", ": 1."])


def as_stored(value: Any, compact: bool) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":") if compact else (", ", ": "))


def row(actor: dict[str, Any], payload: dict[str, Any], compact: bool, version: int, kind: str,
        stage: str | None) -> EventRow:
    return EventRow(
        case_id="5b1f0c3e-8d2a-4c6b-9f4e-2a7d1e0b9c11", seq=7, type=kind, actor=as_stored(actor, compact),
        at="2026-04-06T00:00:00.000001+00:00", stage_before=stage, stage_after="matching",
        payload=as_stored(payload, compact), prev_hash=GENESIS_HASH, hash="", hash_version=version, personal=None,
        personal_salt=None, personal_digest="ab" * 32 if version >= 2 else None, key_id=None, signature=None,
    )


def reference(entry: EventRow) -> bytes:
    """`domain.audit.hashed_fields` + `canonical_json`, from the text decoded as the standard library does."""
    fields = {"case_id": entry.case_id, "seq": entry.seq, "type": entry.type, "actor": json.loads(entry.actor),
              "at": entry.at, "stage_before": entry.stage_before, "stage_after": entry.stage_after,
              "payload": json.loads(entry.payload)}
    if entry.hash_version >= 2:
        fields["personal_digest"] = entry.personal_digest
    return canonical_json(fields).encode()


@pytest.mark.long
@settings(max_examples=1500)
@given(objects, objects, st.booleans(), st.sampled_from([1, 2]), texts, st.none() | texts)
def test_the_fast_canonical_form_is_byte_identical(actor: dict[str, Any], payload: dict[str, Any], compact: bool,
                                                   version: int, kind: str, stage: str | None) -> None:
    entry = row(actor, payload, compact, version, kind, stage)
    assert stored_content(entry) == reference(entry)


@settings(max_examples=300)
@given(objects, st.text(alphabet="0123456789abcdef", min_size=32, max_size=32), st.booleans())
def test_personal_digests_are_those_of_the_domain(personal: dict[str, Any], salt: str, compact: bool) -> None:
    text = as_stored(personal, compact)
    assert stored_personal(salt, text) == personal_digest(salt, json.loads(text))


@settings(max_examples=300)
@given(values, st.booleans())
def test_any_json_value_is_made_canonical_as_the_domain_makes_it(value: Any, compact: bool) -> None:
    """Seen: a bare number (an actor or payload stored as 12345678901234567890123 or 0.00001, not in an object)
    came out in orjson's form (1.2345678901234568e+22, 0.00001): the whole-trail verifier's quick path hashed
    it so, and held a chain intact that the exact path names altered."""
    text = as_stored(value, compact)
    assert canonical_text(text) == canonical_json(json.loads(text)).encode()


@pytest.mark.parametrize("text", ["12345678901234567890123", "-12345678901234567890123", "0.00001", "1e-07"])
def test_a_bare_number_is_made_canonical_as_the_domain_makes_it(text: str) -> None:
    assert canonical_text(text) == canonical_json(json.loads(text)).encode()


def test_an_event_made_by_the_domain_links_as_a_stored_row() -> None:
    at = datetime(2026, 4, 6, 9, 0, 0, tzinfo=UTC) + timedelta(microseconds=7)
    payload = {"contact": {"name": "佐藤 健二", "email": "k@example.jp"}, "score": 0.95, "n": 2**80, "notes": ["a"]}
    entry = make_entry(case_id="5b1f0c3e-8d2a-4c6b-9f4e-2a7d1e0b9c11", seq=1, type="filed",
                       actor={"id": "u-1", "role": "applicant"}, at=at, stage_before=None, stage_after="screening",
                       payload=payload, prev_hash=GENESIS_HASH, salt="0f" * 16)
    stored = EventRow(entry.case_id, entry.seq, entry.type, as_stored(entry.actor, False), canonical_time(entry.at),
                      entry.stage_before, entry.stage_after, as_stored(entry.payload, False), entry.prev_hash,
                      entry.hash, entry.hash_version, as_stored(entry.personal, False), entry.personal_salt,
                      entry.personal_digest, None, None)
    assert stored_link_problem(stored, GENESIS_HASH) is None
    assert hashlib.sha256(GENESIS_HASH.encode() + stored_content(stored)).hexdigest() == entry.hash
    altered = stored._replace(payload=stored.payload.replace("0.95", "0.96"))
    assert "altered" in (stored_link_problem(altered, GENESIS_HASH) or "")
    other_person = stored._replace(personal=stored.personal.replace("k@example.jp", "x@example.jp")
                                   if stored.personal else None)
    assert "personal data" in (stored_link_problem(other_person, GENESIS_HASH) or "")


@given(values, st.booleans())
@settings(max_examples=300)
def test_any_stored_json_text_is_made_canonical_as_the_domain_does(value: Any, compact: bool) -> None:
    """A lone number too (a forged `payload` or `actor` may be one): orjson prints 2**64 as `1.8446744073709552e+19`
    and 1e-07 as `1e-7` there, with nothing before the number to mark it."""
    assert canonical_text(as_stored(value, compact)) == json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@pytest.mark.parametrize("text", ["18446744073709551616", "0.0000001", "-0.00001", "123456789012345678901234567890"])
def test_a_lone_number_is_the_standard_librarys(text: str) -> None:
    assert canonical_text(text) == json.dumps(json.loads(text)).encode()
