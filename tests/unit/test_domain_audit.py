"""Pure tests of the audit hash chain (domain.audit, domain.chain_verification) and of who belongs to which
organisation (domain.people)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from domain.audit import (
    GENESIS_HASH,
    REDACTED,
    REDACTION_EVENT,
    AuditEntry,
    canonical_time,
    hashed_fields,
    make_entry,
    personal_digest,
    redact,
)
from domain.chain_verification import first_broken, verify_chain
from domain.model import FUND, JETRO, OPERATOR, OVERSIGHT, Office, Role
from domain.people import resolve_org

JST = timezone(timedelta(hours=9))
CASE_ID = "5b1f0c3e-8d2a-4c6b-9f4e-2a7d1e0b9c11"
T0 = datetime(2026, 4, 6, 9, 0, 0, 123456, tzinfo=JST)
EVENTS: list[tuple[str, str | None, str, dict[str, Any]]] = [
    ("filed", None, "screening", {"company": "Acme GmbH"}),
    ("relay", "screening", "office_review", {"offices": ["sbic", "sme_support_japan"], "note": ""}),
    ("accept_case", "office_review", "matching", {"note": "We take it."}),
]


def entry(seq: int, prev_hash: str, at: datetime = T0) -> AuditEntry:
    kind, before, after, payload = EVENTS[seq - 1]
    return make_entry(
        case_id=CASE_ID, seq=seq, type=kind, actor={"id": "u-1", "role": "coordinator", "org": JETRO},
        at=at + timedelta(minutes=seq), stage_before=before, stage_after=after, payload=payload,
        prev_hash=prev_hash,
    )


def chain() -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    for seq in range(1, len(EVENTS) + 1):
        entries.append(entry(seq, entries[-1].hash if entries else GENESIS_HASH))
    return entries


def test_an_untouched_chain_is_intact() -> None:
    entries = chain()
    assert first_broken(entries) is None
    assert entries[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    assert all(len(e.hash) == 64 and e.hash != GENESIS_HASH for e in entries)


def test_an_empty_chain_is_intact() -> None:
    assert first_broken([]) is None


def test_changing_the_payload_of_entry_2_breaks_the_chain_at_2() -> None:
    entries = chain()
    entries[1] = entries[1].model_copy(update={"payload": {"offices": ["sbic"], "note": ""}})
    assert first_broken(entries) == 2


@pytest.mark.parametrize(
    "update",
    [{"type": "reject"}, {"stage_after": "closed"}, {"actor": {"id": "u-2", "role": "coordinator", "org": JETRO}},
     {"at": T0 + timedelta(days=1)}, {"at": T0 + timedelta(minutes=2, microseconds=1)}],
    ids=["type", "stage_after", "actor", "at", "at-by-a-microsecond"],
)
def test_changing_any_hashed_field_of_entry_2_breaks_the_chain_at_2(update: dict[str, Any]) -> None:
    entries = chain()
    entries[1] = entries[1].model_copy(update=update)
    assert first_broken(entries) == 2


def test_a_removed_or_reordered_entry_is_found() -> None:
    entries = chain()
    assert first_broken([entries[0], entries[2]]) == 3
    assert first_broken([entries[1], entries[0], entries[2]]) == 2


def test_a_rehashed_entry_still_breaks_the_link_to_the_next() -> None:
    entries = chain()
    kept = entries[1].model_dump(exclude={"hash", "hash_version", "personal", "personal_salt", "personal_digest",
                                         "key_id", "signature"})
    forged = make_entry(**{**kept, "payload": {"offices": ["sbic"], "note": ""}})
    assert first_broken([entries[0], forged, entries[2]]) == 3


def test_entries_hash_differently_for_a_different_prev_hash() -> None:
    assert entry(1, GENESIS_HASH).hash != entry(1, "f" * 64).hash
    assert entry(1, GENESIS_HASH).hash == entry(1, GENESIS_HASH).hash


def test_the_hash_covers_the_payload_as_json_will_store_it() -> None:
    at = datetime(2026, 4, 6, tzinfo=UTC)
    made = make_entry(case_id=CASE_ID, seq=1, type="filed", actor={"id": "u-1"}, at=at, stage_before=None,
                      stage_after="screening", payload={"when": at, "n": (1, 2)}, prev_hash=GENESIS_HASH)
    assert made.payload == {"when": "2026-04-06 00:00:00+00:00", "n": [1, 2]}
    assert first_broken([made]) is None


@pytest.mark.parametrize(
    "at",
    [T0, datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=UTC), datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=JST),
     datetime(2026, 4, 6, 9, 0, tzinfo=UTC)],
    ids=["jst-123456", "utc-000001", "jst-999999", "utc-whole-second"],
)
def test_canonical_time_round_trips_microseconds(at: datetime) -> None:
    text = canonical_time(at)
    assert text.endswith("+00:00")
    assert text[-13:-6] == f".{at.microsecond:06d}"
    back = datetime.fromisoformat(text)
    assert back == at and back.microsecond == at.microsecond
    assert canonical_time(back) == text


def test_the_same_instant_in_another_zone_hashes_the_same() -> None:
    one = entry(1, GENESIS_HASH, at=T0)
    other = entry(1, GENESIS_HASH, at=T0.astimezone(UTC))
    assert hashed_fields(one) == hashed_fields(other) and one.hash == other.hash


# --- people.resolve_org -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "org"),
    [(Role.COORDINATOR, JETRO), (Role.FUND_COMMITTEE, FUND), (Role.AUDITOR, OVERSIGHT), (Role.ADMIN, OPERATOR)],
    ids=str,
)
def test_single_org_roles_default_to_their_org(role: Role, org: str) -> None:
    assert resolve_org(role, None) == org
    assert resolve_org(role, org) == org


@pytest.mark.parametrize("office", list(Office), ids=str)
@pytest.mark.parametrize("role", [Role.OFFICE_OFFICER, Role.OFFICE_MANAGER], ids=str)
def test_office_staff_belong_to_the_office_they_name(role: Role, office: Office) -> None:
    assert resolve_org(role, office) == office


@pytest.mark.parametrize("org", ["acme-gmbh", "globex_inc", "a1"])
def test_an_applicant_keeps_its_company_code(org: str) -> None:
    assert resolve_org(Role.APPLICANT, org) == org


REFUSED: list[tuple[str, Role, str | None, list[str]]] = [
    ("officer-without-office", Role.OFFICE_OFFICER, None, ["sbic", "shoko_chukin_bank", "sme_support_japan"]),
    ("manager-of-jetro", Role.OFFICE_MANAGER, JETRO, ["sbic", "shoko_chukin_bank", "sme_support_japan"]),
    ("coordinator-of-an-office", Role.COORDINATOR, "sbic", [JETRO]),
    ("fund-of-jetro", Role.FUND_COMMITTEE, JETRO, [FUND]),
    ("auditor-elsewhere", Role.AUDITOR, "acme-gmbh", [OVERSIGHT]),
    ("admin-elsewhere", Role.ADMIN, JETRO, [OPERATOR]),
    ("applicant-without-org", Role.APPLICANT, None, ["--org", "company"]),
    ("applicant-upper-case", Role.APPLICANT, "Acme", ["lower-case"]),
    ("applicant-one-char", Role.APPLICANT, "a", ["company"]),
    ("applicant-as-jetro", Role.APPLICANT, JETRO, ["company"]),
    ("applicant-as-an-office", Role.APPLICANT, "sbic", ["company"]),
    ("applicant-as-the-fund", Role.APPLICANT, FUND, ["company"]),
    ("system", Role.SYSTEM, "system", ["system"]),
]


@pytest.mark.parametrize(("role", "org", "words"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_wrong_orgs_are_refused_with_a_readable_message(role: Role, org: str | None, words: list[str]) -> None:
    with pytest.raises(ValueError, match=r"\w+ \w+") as refused:
        resolve_org(role, org)
    message = str(refused.value)
    assert all(word in message for word in words), message
    assert "Role." not in message and "frozenset" not in message, message


# -- hash version 2: personal data kept apart, erasable -----------------------------------------------

CONTACT = {"contact": {"name": "Anna Schmidt", "email": "anna@acme.example", "language": "en"}}


def salted_chain(named: object = (1,)) -> list[AuditEntry]:
    """filed (with a contact), relay, then the recorded redaction (naming `named`), each of hash version 2."""
    steps: list[tuple[str, dict[str, Any]]] = [
        ("filed", {"company": "Acme GmbH", **CONTACT}), ("relay", {"offices": ["sbic"]}),
        (REDACTION_EVENT, {"events": list(named) if isinstance(named, tuple) else named}),
    ]
    entries: list[AuditEntry] = []
    for seq, (kind, payload) in enumerate(steps, start=1):
        entries.append(make_entry(
            case_id=CASE_ID, seq=seq, type=kind, actor={"id": "u-1"}, at=T0 + timedelta(minutes=seq),
            stage_before=None, stage_after="screening", payload=payload,
            prev_hash=entries[-1].hash if entries else GENESIS_HASH, salt=f"{seq:032x}",
        ))
    return entries


def test_personal_data_is_kept_apart_and_only_its_salted_digest_is_hashed() -> None:
    filed = salted_chain()[0]
    assert filed.hash_version == 2 and filed.payload == {"company": "Acme GmbH"} and filed.personal == CONTACT
    assert filed.full_payload() == {"company": "Acme GmbH", **CONTACT}
    assert "anna@acme.example" not in str(hashed_fields(filed))
    assert filed.personal_digest == personal_digest(filed.personal_salt or "", CONTACT)


def test_a_recorded_redaction_keeps_the_chain_intact() -> None:
    entries = salted_chain()
    redacted = [redact(entries[0]), *entries[1:]]
    assert redacted[0].redacted and redacted[0].personal is None and redacted[0].personal_salt is None
    assert first_broken(redacted) is None
    assert redacted[0].full_payload()["contact"]["name"] == REDACTED


def test_an_erasure_without_a_recorded_redaction_breaks_the_chain() -> None:
    entries = salted_chain()[:2]
    report = verify_chain([redact(entries[0]), entries[1]])
    assert (report.valid, report.first_broken_seq) == (False, 1)
    assert "no redaction is recorded" in (report.reason or "")


@pytest.mark.parametrize("named", [1, None, "1", {"1": 1}, (True,), (1.0,)])
def test_a_redaction_that_names_its_events_otherwise_than_as_a_list_of_integers_names_none(named: object) -> None:
    """Not a crash of the verifier (a forged row once stopped every case's verification): the erasure is a break."""
    entries = salted_chain(named)
    report = verify_chain([redact(entries[0]), *entries[1:]])
    assert (report.valid, report.first_broken_seq) == (False, 1)
    assert "no redaction is recorded" in (report.reason or "")


def test_an_event_at_a_time_with_no_utc_form_is_named_altered() -> None:
    """asyncpg reads a stored '-infinity' as naive year 1, which once failed every per-case verification (a 500)."""
    entries = salted_chain()
    report = verify_chain([entries[0], entries[1].model_copy(update={"at": datetime.min}), entries[2]])
    assert (report.valid, report.first_broken_seq) == (False, 2)
    assert "altered" in (report.reason or "")


@pytest.mark.parametrize("named", [5, None, True, "1"])
def test_a_redaction_naming_no_list_of_events_is_a_break_not_a_crash(named: object) -> None:
    """Seen: one row appended as a redaction whose payload is {"events": 5} (or null, or true) stopped every
    verifier (whole trail and per case) with a TypeError before any link was checked."""
    entries = salted_chain()
    forged = entries[-1].model_copy(update={"seq": len(entries) + 1, "type": REDACTION_EVENT,
                                            "payload": {"events": named}, "prev_hash": entries[-1].hash})
    report = verify_chain([*entries, forged])
    assert (report.valid, report.first_broken_seq) == (False, len(entries) + 1)


def test_altered_personal_data_breaks_the_chain_at_its_event() -> None:
    entries = salted_chain()
    forged = entries[0].model_copy(update={"personal": {"contact": {**CONTACT["contact"], "name": "Eve"}}})
    report = verify_chain([forged, *entries[1:]])
    assert (report.valid, report.first_broken_seq) == (False, 1)
    assert "personal data" in (report.reason or "")


def test_version_1_entries_still_verify_as_before() -> None:
    assert all(e.hash_version == 1 and e.personal_digest is None for e in chain())
    assert first_broken(chain()) is None
