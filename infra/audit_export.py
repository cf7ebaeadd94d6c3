"""The audit trail exported in a standard form (JSON Lines or CSV), ending with a manifest.

The export streams through one server-side cursor (`yield_per`), so it runs in constant memory however
many events it holds; the events come ordered by (at, case_id, seq).

Why a manifest: an auditor takes the file away and must be able to tell, on their own machine and without
us, whether it is whole. The manifest is the last line and carries the count of events, the filters, the
first and last event times and the sha256 of every byte before it. A cut-off download lacks the manifest
(or its count and digest no longer hold); an edited byte changes the digest. Each event also keeps its own
`hash` and `prev_hash`, so `infra.export_check.check_export` recomputes every event's hash from its content: an
event edited by someone who also rewrote the manifest still shows, and the hashes can be compared with the ones
`GET /api/cases/{id}/history/verify` holds.

The two forms:

* `jsonl` (`application/x-ndjson`): one JSON object per event, each line ending in `\\n`, with the fields
  case_id, seq, type, actor, at (ISO 8601, UTC, microseconds), stage_before, stage_after, payload,
  prev_hash, hash, and — so that what retention erases exists whole outside first and every hash can be
  recomputed — hash_version, personal, personal_salt, personal_digest (see `domain.audit`), and the
  event's key_id and signature (`domain.signing`). The last line is `{"manifest": {...}}`.
* `csv` (`text/csv`, RFC 4180, lines ending in `\\r\\n`), Excel-ready: UTF-8 starting with a byte-order mark
  (U+FEFF, bytes EF BB BF: without it Excel on a Japanese PC reads the file as Shift_JIS and shows mojibake;
  the mark is part of what the manifest's sha256 covers), a header row with the same columns, then one row
  per event; actor, payload and personal are compact JSON text, an empty cell is null (e.g. stage_before
  of the filing, personal after redaction). The last line is `#manifest,` followed by the very same
  `{"manifest": {...}}` JSON, unquoted: it is not a CSV record, so drop it before reading the rows (e.g.
  `pandas.read_csv(..., comment="#")`); a row never starts with `#` (every row starts with a case id).

With `access` (`GET /api/audit/export?access=true`), the access log's rows of the same period, case or office
(`infra.access_log`: who was shown which personal data, when, through which route) follow the events, oldest
first, one a line: `{"access": {"id", "at", "person_id", "person_name", "role", "org", "case_id", "sme_ids",
"fields", "route"}}` — in the CSV behind `#access,`, like the manifest, so a reader of the rows drops them with
the manifest (`comment="#"`). The manifest then counts them (`access_count`) and its sha256 covers them too.

The manifest: `{"manifest": {"format", "count", "since", "until", "case", "office", "first_at", "last_at",
"sha256", "generated_at", "keys"}}`; `keys` are the public keys of `GET /api/audit/keys`, which
`check_export` checks every signed event's signature with (compare their ids with the published ones).
`since` (inclusive) and `until` (exclusive) bound `at` and are null when not given; `first_at`/`last_at` are
the first and last event's `at` (null when empty); `generated_at` is when the export began (the cursor reads
the trail as it stood then).
"""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import re
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any, Literal

import structlog
from sqlalchemy import ColumnElement, Select, Text, cast, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.audit import canonical_time
from domain.signing import Keyring
from infra.access_log import ACCESS_COLUMNS, CANONICAL_UTC, exported_access
from infra.audit_tables import access_log
from infra.tables import audit_events, cases

log = structlog.get_logger(__name__)

ExportFormat = Literal["jsonl", "csv"]
FORMATS: tuple[ExportFormat, ...] = ("jsonl", "csv")
MEDIA_TYPES: dict[ExportFormat, str] = {"jsonl": "application/x-ndjson", "csv": "text/csv"}
COLUMNS = ("case_id", "seq", "type", "actor", "at", "stage_before", "stage_after", "payload", "prev_hash", "hash",
           "hash_version", "personal", "personal_salt", "personal_digest", "key_id", "signature")
CSV_MANIFEST_PREFIX = b"#manifest,"
CSV_ACCESS_PREFIX = b"#access,"
JSONL_ACCESS_PREFIX = b'{"access":'
JSONL_MANIFEST_PREFIX = b'{"manifest":'
ROWS_PER_FETCH = 5_000
CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True)
class ExportFilter:
    """Which events: `since` ≤ at < `until`, of one case, or of the cases relayed to one office."""

    since: datetime | None = None
    until: datetime | None = None
    case: str | None = None
    office: str | None = None
    access: bool = False
    """Whether the access log's rows follow the events."""

    def conditions(self) -> list[ColumnElement[bool]]:
        """The filters, of the audit events."""
        return self._of(audit_events.c.at, audit_events.c.case_id)

    def access_conditions(self) -> list[ColumnElement[bool]]:
        """The same filters, of the access log's rows."""
        return self._of(access_log.c.at, access_log.c.case_id)

    def _of(self, at: ColumnElement[Any], case_id: ColumnElement[Any]) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.since is not None:
            found.append(at >= self.since)
        if self.until is not None:
            found.append(at < self.until)
        if self.case is not None:
            found.append(case_id == self.case)
        if self.office is not None:
            # the row's own column, as every list is scoped: a case whose record its owner altered keeps its events
            relayed = select(cases.c.id).where(cases.c.offices.contains([self.office]))
            found.append(case_id.in_(relayed))
        return found


def export_query(filters: ExportFilter) -> Select[Any]:
    """The events as text, ready to write: JSON as PostgreSQL renders it, `at` in its canonical form.

    Text straight from the server spares a JSON decode and re-encode per event in Python, which would
    otherwise be most of the export's time.
    """
    events = audit_events.c
    return (
        select(
            cast(events.case_id, Text).label("case_id"), events.seq, events.type,
            cast(events.actor, Text).label("actor"),
            func.to_char(func.timezone("UTC", events.at), CANONICAL_UTC).label("at"),
            events.stage_before, events.stage_after, cast(events.payload, Text).label("payload"),
            events.prev_hash, events.hash, events.hash_version, cast(events.personal, Text).label("personal"),
            events.personal_salt, events.personal_digest, events.key_id, events.signature,
        )
        .where(*filters.conditions())
        .order_by(events.at, events.case_id, events.seq)
    )


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def compact_json(text: str) -> str:
    """PostgreSQL's JSON text without its blanks: the same value, written as `json.dumps` compactly would.

    jsonb's text form has nothing outside strings but ", " and ": " between items. Without a backslash every
    `"` opens or closes a string, so the parts outside strings are every other piece between quotes; joined
    by NUL (which jsonb cannot hold) they lose their blanks in one pass of C-speed string methods, several
    times faster than a JSON round trip. With a backslash, the round trip does it.
    """
    if "\\" in text:
        return _json(json.loads(text))
    parts = text.split('"')
    parts[::2] = "\0".join(parts[::2]).replace(", ", ",").replace(": ", ":").split("\0")
    return '"'.join(parts)


_NEEDS_QUOTES = re.compile('[",\r\n]')


def _cell(value: str | None) -> str:
    """A CSV cell as RFC 4180 has it (the csv module does the same, at twice the cost for long JSON cells); an
    empty one for NULL (a NOT NULL column the table's owner loosened: the export shows the row, check_export and
    the verifiers call it broken)."""
    if value is None:
        return ""
    return '"' + value.replace('"', '""') + '"' if _NEEDS_QUOTES.search(value) else value


def _number(value: int | None, null: str) -> str:
    return null if value is None else str(value)


def _json_or_null(text: str | None) -> str:
    return "null" if text is None else compact_json(text)


def _json_cell(text: str | None) -> str:
    return "" if text is None else '"' + compact_json(text).replace('"', '""') + '"'


def _string(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


def _time(at: datetime | None) -> str | None:
    return None if at is None else canonical_time(at)


@dataclass
class _Writer:
    """Turns rows into one format's bytes, keeping the count, the digest and the first and last times."""

    format: ExportFormat
    keys: list[dict[str, str]]
    digest: Any = field(default_factory=hashlib.sha256)
    count: int = 0
    first_at: str | None = None
    last_at: str | None = None
    access_count: int | None = None

    def header(self) -> bytes:
        if self.format == "jsonl":
            return b""
        return self._seal(codecs.BOM_UTF8 + (",".join(COLUMNS) + "\r\n").encode())

    def rows(self, rows: Sequence[Any]) -> bytes:
        if not rows:
            return b""
        text = io.StringIO()
        if self.format == "jsonl":
            for row in rows:
                (case_id, seq, type_, actor, at, before, after, payload, prev, hash_, version, personal, salt, dig, kid,
                 sig) = row
                text.write(
                    f'{{"case_id":{_string(case_id)},"seq":{_number(seq, "null")},"type":{_string(type_)},'
                    f'"actor":{_json_or_null(actor)},"at":{_string(at)},"stage_before":{_string(before)},'
                    f'"stage_after":{_string(after)},"payload":{_json_or_null(payload)},'
                    f'"prev_hash":{_string(prev)},"hash":{_string(hash_)},"hash_version":{_number(version, "null")},'
                    f'"personal":{_json_or_null(personal)},'
                    f'"personal_salt":{_string(salt)},"personal_digest":{_string(dig)},"key_id":{_string(kid)},'
                    f'"signature":{_string(sig)}}}\n'
                )
        else:
            for row in rows:
                (case_id, seq, type_, actor, at, before, after, payload, prev, hash_, version, personal, salt, dig, kid,
                 sig) = row
                text.write(
                    f"{_cell(case_id)},{_number(seq, '')},{_cell(type_)},{_json_cell(actor)},{_cell(at)},"
                    f"{_cell(before)},{_cell(after)},{_json_cell(payload)},{_cell(prev)},{_cell(hash_)},"
                    f"{_number(version, '')},{_json_cell(personal)},"
                    f"{_cell(salt or '')},{_cell(dig or '')},{_cell(kid or '')},{_cell(sig or '')}\r\n"
                )
        self.count += len(rows)
        self.first_at = self.first_at or rows[0].at
        self.last_at = rows[-1].at
        return self._seal(text.getvalue().encode())

    def accesses(self, rows: Sequence[Any]) -> bytes:
        """Access-log rows (`ACCESS_COLUMNS` order), one `{"access": …}` line each."""
        prefix = b"" if self.format == "jsonl" else CSV_ACCESS_PREFIX
        end = b"\n" if self.format == "jsonl" else b"\r\n"
        self.access_count = (self.access_count or 0) + len(rows)
        return self._seal(b"".join(
            prefix + _json({"access": dict(zip(ACCESS_COLUMNS, row, strict=True))}).encode() + end for row in rows
        ))

    def manifest(self, filters: ExportFilter, generated_at: datetime) -> bytes:
        body = {"manifest": {
            "format": self.format, "count": self.count, "since": _time(filters.since), "until": _time(filters.until),
            "case": filters.case, "office": filters.office, "first_at": self.first_at, "last_at": self.last_at,
            "sha256": self.digest.hexdigest(), "generated_at": canonical_time(generated_at), "keys": self.keys,
        }}
        if filters.access:
            body["manifest"]["access_count"] = self.access_count or 0
        line = _json(body)
        if self.format == "jsonl":
            return (line + "\n").encode()
        return CSV_MANIFEST_PREFIX + (line + "\r\n").encode()

    def _seal(self, data: bytes) -> bytes:
        self.digest.update(data)
        return data


async def export_audit(
    engine: AsyncEngine, format: ExportFormat, filters: ExportFilter, keyring: Keyring, *,
    rows_per_fetch: int = ROWS_PER_FETCH,
) -> AsyncGenerator[bytes, None]:
    """The export as chunks of bytes, the manifest last (with `keyring`'s public keys); memory stays flat
    whatever the size.

    The first chunk comes only once the query runs, so a caller that awaits it before answering turns a
    database failure into an error response instead of a cut-off download.
    """
    generated_at = datetime.now(UTC)
    writer = _Writer(format, keyring.published())
    pending = [writer.header()]
    size = 0
    sections: list[tuple[Select[Any], Callable[[Sequence[Any]], bytes]]] = [(export_query(filters), writer.rows)]
    if filters.access:
        sections.append((exported_access(filters.access_conditions(), CANONICAL_UTC), writer.accesses))
    async with engine.connect() as conn:
        for query, write in sections:
            result = await conn.stream(query.execution_options(yield_per=rows_per_fetch))
            async for rows in result.partitions():
                pending.append(write(rows))
                size += len(pending[-1])
                if size >= CHUNK_BYTES:
                    yield b"".join(pending)
                    pending, size = [], 0
    pending.append(writer.manifest(filters, generated_at))
    yield b"".join(pending)
    log.info("audit exported", format=format, events=writer.count, since=_time(filters.since),
             until=_time(filters.until), case=filters.case, office=filters.office)
