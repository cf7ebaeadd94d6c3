"""The one reader of stored rows (`domain.stored_rows`): a row no recording step writes — a column NULL, JSON of
another type, a time no reading gives, events missing, twice or out of order, none at all — is named at its seq,
the same seq by the verifiers (`links`) and the readers (`trail_entries`), never an AssertionError or a
validation error. Rows are made here as PostgreSQL's COPY prints them (`tests/integration/test_copy_rows.py` reads
them from PostgreSQL itself)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain.audit import GENESIS_HASH, AuditEntry, canonical_time, make_entry
from domain.chain_rows import Canonical, links
from domain.chain_verification import NO_EVENTS, EventRow
from domain.stored_rows import DamagedRow, audit_entry, event_row, trail_entries

NEVER_NULL = ["case_id", "seq", "type", "actor", "at", "stage_after", "payload", "prev_hash", "hash", "hash_version"]


def chain(events: int = 4) -> list[AuditEntry]:
    case_id, prev, entries = str(uuid.uuid4()), GENESIS_HASH, []
    for seq in range(1, events + 1):
        entry = make_entry(case_id=case_id, seq=seq, type="add_note", actor={"id": "u", "name": "佐藤"},
                           at=datetime(2026, 4, 1, tzinfo=UTC) + timedelta(hours=seq), stage_before="matching",
                           stage_after="matching", payload={"note": f"n{seq}"}, prev_hash=prev)
        entries.append(entry)
        prev = entry.hash
    return entries


def copied(entry: AuditEntry) -> list[bytes | None]:
    """The entry's row as COPY prints it (`domain.stored_rows.ROW_COLUMNS`)."""
    at = entry.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00").encode()
    values = [entry.case_id, str(entry.seq), entry.type, json.dumps(entry.actor, ensure_ascii=False), at,
              entry.stage_before, entry.stage_after, json.dumps(entry.payload, ensure_ascii=False), entry.prev_hash,
              entry.hash, str(entry.hash_version), None, None, None, None, None]
    return [value if value is None or isinstance(value, bytes) else value.encode() for value in values]


def rows_of(entries: list[AuditEntry]) -> list[list[bytes | None]]:
    return [copied(entry) for entry in entries]


def test_intact_rows_read_back_as_the_very_events() -> None:
    entries = chain()
    assert trail_entries(rows_of(entries)) == entries
    report, _, hashes = links(rows_of(entries), Canonical())
    assert report.valid and hashes == [e.hash for e in entries]


@pytest.mark.parametrize("column", NEVER_NULL)
@pytest.mark.parametrize("seq", [1, 2, 4])
def test_a_column_null_is_a_break_at_its_event_for_verifiers_and_readers_alike(column: str, seq: int) -> None:
    rows = rows_of(chain())
    rows[seq - 1][EventRow._fields.index(column)] = None
    if column == "seq":  # NULLs sort last
        rows.append(rows.pop(seq - 1))
    with pytest.raises(DamagedRow) as raised:
        trail_entries(rows)
    report, _, _ = links(rows, Canonical())
    assert not report.valid and report.first_broken_seq == raised.value.seq
    if column != "seq":
        assert (report.first_broken_seq, report.reason) == (seq, raised.value.reason)
        assert f"its {column} is NULL" in (report.reason or "")
        with pytest.raises(DamagedRow):
            event_row(rows[seq - 1])


@pytest.mark.parametrize(("column", "text"), [("payload", b"[1, 2]"), ("payload", b'"x"'), ("payload", b"null"),
                                              ("actor", b"7"), ("actor", b"[]")])
def test_json_of_another_type_is_a_break_and_no_event_to_show(column: str, text: bytes) -> None:
    rows = rows_of(chain())
    rows[1][EventRow._fields.index(column)] = text
    with pytest.raises(DamagedRow) as raised:
        audit_entry(rows[1])
    assert raised.value.seq == 2 and f"its {column} is not a JSON object" in raised.value.reason
    report, _, _ = links(rows, Canonical())
    assert (report.valid, report.first_broken_seq) == (False, 2)


@pytest.mark.parametrize("at", [b"2026-04-01T09:00:00.000000+00:00 BC", b"12026-04-01T09:00:00.000000+00:00 AD"])
def test_a_time_no_recording_step_gives_is_a_break_and_no_event_to_show(at: bytes) -> None:
    rows = rows_of(chain())
    rows[2][EventRow._fields.index("at")] = at
    with pytest.raises(DamagedRow) as raised:
        trail_entries(rows)
    assert raised.value.seq == 3
    assert links(rows, Canonical())[0].first_broken_seq == 3


@pytest.mark.parametrize("at", [b"infinity", b"-infinity"])
def test_the_infinities_read_as_the_times_the_driver_stores_so(at: bytes) -> None:
    rows = rows_of(chain())
    rows[2][EventRow._fields.index("at")] = at
    shown = trail_entries(rows)[2]
    assert canonical_time(shown.at) in ("9999-12-31T23:59:59.999999+00:00", "0001-01-01T00:00:00.000000+00:00")
    assert links(rows, Canonical())[0].first_broken_seq == 3  # altered all the same


@pytest.mark.parametrize(("order", "seq"), [([1, 3, 4], 3), ([1, 2, 2, 3, 4], 2), ([2, 3, 4], 2), ([1, 2, 3, 9], 9)])
def test_events_missing_twice_or_out_of_order_are_named_alike(order: list[int], seq: int) -> None:
    entries = chain()
    rows = [copied(entries[0].model_copy(update={"seq": n}) if n > len(entries) else entries[n - 1]) for n in order]
    with pytest.raises(DamagedRow) as raised:
        trail_entries(rows)
    report, _, _ = links(rows, Canonical())
    assert (report.valid, report.first_broken_seq) == (False, seq) and raised.value.seq == seq


def test_a_trail_of_no_event_is_no_trail_to_show() -> None:
    with pytest.raises(DamagedRow) as raised:
        trail_entries([])
    assert (raised.value.seq, raised.value.reason) == (1, NO_EVENTS)


def test_a_damaged_row_after_a_break_leaves_the_first_break_named() -> None:
    rows = rows_of(chain())
    rows[1][EventRow._fields.index("payload")] = b'{"note": "forged"}'
    rows[3][EventRow._fields.index("hash")] = None
    report, _, _ = links(rows, Canonical())
    assert (report.first_broken_seq, report.events) == (2, 4) and "altered" in (report.reason or "")
