"""Events as PostgreSQL's COPY prints them (text format), linked and hashed without building an `EventRow` each.

The whole-trail verifier reads the trail with `COPY (SELECT <ROW_COLUMNS> …) TO STDOUT`: one line per event,
its columns in `EventRow`'s order separated by tabs, SQL NULL as ``\\N``, a backslash, tab, newline, carriage
return, backspace, form feed or vertical tab in a value escaped with a backslash, and `at` printed in UTC
(``YYYY-MM-DD HH:MI:SS[.ffffff]+00``; outside years 1 to 9999, which `domain.audit.canonical_time` alone gives,
in its form followed by the era, or ``infinity``/``-infinity``: see `ROW_COLUMNS`). A row is a list of its 16
columns as bytes (None for NULL).

It is the one reader of stored events: the whole-trail verifier and every per-case reader (history, verification,
the case as of a time, evidence packs, retention, cross-checks; `infra.audit_trail`) take rows so, and a row no
recording step writes — a column NULL that never is, JSON of another type than the event's, a time no reading
gives — is `DamagedRow` here, naming its seq: a break for the verifiers (`domain.chain_rows.links`), a 409 for
the readers (`audit_entry`), never a crash.

How a case's rows are linked and hashed, quickly when every event holds, is `domain.chain_rows`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from domain.audit import AuditEntry
from domain.chain_verification import (
    EventRow,
    misplaced,
    out_of_place,
)

Row = Sequence[bytes | None]
"""A stored event's columns as COPY prints them, in `EventRow`'s order (None: SQL NULL)."""

ROW_COLUMNS = ", ".join(
    """CASE WHEN at >= '0001-01-01 00:00:00+00' AND at < '10000-01-01 00:00:00+00' THEN at::text
       WHEN isfinite(at) THEN to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00" BC')
       ELSE at::text END"""
    if name == "at" else name for name in EventRow._fields)
"""The SELECT list of `EventRow`'s columns for COPY: `at` as its text (the session's TimeZone must be UTC), which
costs the server far less than `to_char`, and `to_char` only for the years its text prints otherwise, with the era
(` AD`, ` BC`), which `canonical_time` never prints: `YYYY` prints 2026 BC as 2026, so without it an event moved
back to 2026 BC hashed as the one of 2026 AD; those times are none `canonical_time` gives, so an event holding
one never holds its hash. `infinity` and `-infinity` (`to_char` gives NULL) are printed as they are: `canonical_at`
takes them as the driver does (the times it stores so: 9999-12-31 23:59:59.999999 and 0001-01-01 00:00 UTC)."""

_NULL = b"\\N"
_ESCAPED = re.compile(rb"\\(.)", re.DOTALL)
_UNESCAPE = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}
_INFINITIES = {b"infinity": b"9999-12-31T23:59:59.999999+00:00",
               b"-infinity": b"0001-01-01T00:00:00.000000+00:00"}
"""The times asyncpg stores as `infinity` and `-infinity` (datetime.max and datetime.min), as it reads them back."""


def copy_row(line: bytes) -> Row:
    """The columns of one line of COPY's text format (without its newline)."""
    values = line.split(b"\t")
    if b"\\" not in line:
        return values
    if line.count(b"\\") == values.count(_NULL):  # NULLs only, nothing escaped
        return [None if value == _NULL else value for value in values]
    return [None if value == _NULL else _unescape(value) if b"\\" in value else value for value in values]


def _unescape(value: bytes) -> bytes:
    return _ESCAPED.sub(lambda m: _UNESCAPE.get(m.group(1), m.group(1)), value)


def canonical_at(at: bytes) -> bytes:
    """`canonical_time` (ASCII) of a timestamp printed in UTC as COPY prints it (see the module's docstring)."""
    if len(at) == 29:  # six digits of fraction, as nearly every stored time has
        return at[:10] + b"T" + at[11:26] + b"+00:00"
    if b"T" in at:  # printed by to_char already: no time canonical_time gives
        return at
    if at in _INFINITIES:
        return _INFINITIES[at]
    clock, _, fraction = at[11:-3].partition(b".")
    return at[:10] + b"T" + clock + b"." + fraction.ljust(6, b"0") + b"+00:00"


def column_text(value: bytes | None) -> str | None:
    return None if value is None else value.decode()


class DamagedRow(ValueError):
    """A stored row no recording step writes, which no reader can take as an event: `seq` (None when it is NULL)
    and why (`reason`, as a verifier's report words a break)."""

    def __init__(self, seq: int | None, reason: str) -> None:
        super().__init__(reason)
        self.seq = seq
        self.reason = reason


_NEVER_NULL = frozenset({"case_id", "seq", "type", "actor", "at", "stage_after", "payload", "prev_hash", "hash",
                         "hash_version"})
"""The columns every recorded event fills (the table's NOT NULL, which the table's owner can drop)."""


def event_row(row: Row) -> EventRow:
    """The `EventRow` the cursor of the same columns gives (JSON null in `personal` is no personal data);
    `DamagedRow` for a column NULL that no recording step leaves NULL."""
    seq = None if row[1] is None else int(row[1])
    for name, value in zip(EventRow._fields, row, strict=True):
        if value is None and name in _NEVER_NULL:
            raise DamagedRow(seq, f"its {name} is NULL, which no recorded event is: the event was altered")
    case_id, _, kind, actor, at, before, after, payload, prev, hash_, version, personal, *rest = row
    assert case_id is not None and kind is not None and actor is not None and at is not None  # for mypy: see above
    assert after is not None and payload is not None and prev is not None and hash_ is not None and version
    return EventRow(case_id.decode(), int(row[1] or 0), kind.decode(), actor.decode(), canonical_at(at).decode(),
                    column_text(before), after.decode(), payload.decode(), prev.decode(), hash_.decode(), int(version),
                    None if personal == b"null" else column_text(personal), *(column_text(value) for value in rest))


def audit_entry(row: Row) -> AuditEntry:
    """The event a stored row holds, as the readers show and replay it; `DamagedRow` for one that holds no
    event (`event_row`), or JSON of another type than an event's, or a time no recording step gives."""
    event = event_row(row)
    try:
        actor, payload = _json_object(event, "actor", event.actor), _json_object(event, "payload", event.payload)
        personal = None if event.personal is None else _json_object(event, "personal", event.personal)
    except RecursionError:
        raise DamagedRow(event.seq, "its JSON is nested deeper than any recorded event's: the event was altered"
                         ) from None
    try:
        at = datetime.fromisoformat(event.at)
    except ValueError:
        raise DamagedRow(event.seq, f"its time ({event.at}) is none a recording step gives: the event was altered"
                         ) from None
    return AuditEntry(case_id=event.case_id, seq=event.seq, type=event.type, actor=actor, at=at,
                      stage_before=event.stage_before, stage_after=event.stage_after, payload=payload,
                      prev_hash=event.prev_hash, hash=event.hash, hash_version=event.hash_version, personal=personal,
                      personal_salt=event.personal_salt, personal_digest=event.personal_digest, key_id=event.key_id,
                      signature=event.signature)


def _json_object(event: EventRow, name: str, text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise DamagedRow(event.seq, f"its {name} is not a JSON object, as every recorded event's is: the event was "
                                    "altered")
    return value


def trail_entries(rows: Sequence[Row]) -> list[AuditEntry]:
    """The events of a case's rows (in seq order), as readers show and replay them: `DamagedRow` for the first row
    that is none (`audit_entry`), for an event not where its seq puts it (one missing, held twice or out of order)
    and for a trail of no event at all."""
    entries: list[AuditEntry] = []
    for row in rows:
        try:
            entries.append(audit_entry(row))
        except DamagedRow as error:
            raise where_damaged([entry.seq for entry in entries], error) from None
    if (found := out_of_place([entry.seq for entry in entries])) is not None:
        raise DamagedRow(*found)
    return entries


def where_damaged(before: list[int], damaged: DamagedRow) -> DamagedRow:
    """The break a damaged row makes after the events whose seqs are `before`, as `chain_links` would name it: the
    first of those out of its place, else the damaged row at the place it holds (event `len(before) + 1`)."""
    if before and (found := out_of_place(before)) is not None:
        return DamagedRow(*found)
    at = len(before) + 1
    if damaged.seq is None or damaged.seq == at:
        return DamagedRow(at, damaged.reason)
    return DamagedRow(damaged.seq, misplaced(at))
