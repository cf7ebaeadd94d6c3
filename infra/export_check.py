"""Checking an exported audit trail (`infra.audit_export`) as its receiver would, with nothing but the file."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.audit import AuditEntry, canonical_time, chain_hash, hashed_fields, personal_digest
from domain.signing import EVENT_CONTEXT, Keyring, public_key
from infra.audit_export import (
    COLUMNS,
    CSV_ACCESS_PREFIX,
    CSV_MANIFEST_PREFIX,
    JSONL_ACCESS_PREFIX,
    JSONL_MANIFEST_PREFIX,
    ExportFormat,
)


@dataclass(frozen=True)
class ManifestCheck:
    """Whether an export is whole and unaltered: `count` events read, and `why` not when it is not."""

    ok: bool
    count: int
    why: str | None = None
    manifest: dict[str, Any] | None = None


def _fail(why: str, count: int = 0, manifest: dict[str, Any] | None = None) -> ManifestCheck:
    return ManifestCheck(ok=False, count=count, why=why, manifest=manifest)


def _events(body: bytes, format: ExportFormat) -> list[dict[str, Any]]:
    """The events of an export's body (everything before the manifest); ValueError when unreadable."""
    if format == "jsonl":
        lines = body.split(b"\n")
        if lines[-1] != b"":
            raise ValueError("the last event line is incomplete")
        events = []
        for number, line in enumerate(lines[:-1], start=1):
            event = json.loads(line)
            if not isinstance(event, dict) or set(event) != set(COLUMNS):
                raise ValueError(f"line {number} is not an audit event")
            events.append(event)
        return events
    rows = csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""))  # with the mark, or (older) without
    if tuple(next(rows, ())) != COLUMNS:
        raise ValueError(f"the header row is not {','.join(COLUMNS)}")
    events = []
    for number, row in enumerate(rows, start=2):
        if len(row) != len(COLUMNS):
            raise ValueError(f"row {number} has {len(row)} cells, not {len(COLUMNS)}")
        cells = dict(zip(COLUMNS, row, strict=True))
        events.append(cells | {
            "seq": int(cells["seq"]), "actor": json.loads(cells["actor"]), "payload": json.loads(cells["payload"]),
            "stage_before": cells["stage_before"] or None, "hash_version": int(cells["hash_version"]),
            "personal": json.loads(cells["personal"]) if cells["personal"] else None,
            "personal_salt": cells["personal_salt"] or None, "personal_digest": cells["personal_digest"] or None,
            "key_id": cells["key_id"] or None, "signature": cells["signature"] or None,
        })
    return events


def _without_accesses(body: bytes, format: ExportFormat) -> tuple[bytes, int]:
    """The body less its access-log lines (they follow the events), and how many there were (-1 when a line
    after the first of them is not one)."""
    lead, end = (JSONL_ACCESS_PREFIX, b"\n") if format == "jsonl" else (CSV_ACCESS_PREFIX, b"\r\n")
    found = body.find(end + lead)
    cut = 0 if body.startswith(lead) else found + len(end) if found >= 0 else len(body)
    lines = body[cut:].split(end)[:-1]
    return body[:cut], len(lines) if all(line.startswith(lead) for line in lines) else -1


def check_export(content: bytes) -> ManifestCheck:
    """Check an export as its receiver would: whole (manifest present, count and sha256 hold) and unaltered.

    Pure, so auditors can run it on a downloaded file (`check_export(Path(f).read_bytes())`). Beyond the
    manifest it recomputes each event's hash from its content and checks that consecutive events of a case
    link up, that events are in (at, case_id, seq) order, inside the stated period, and that `first_at` and
    `last_at` agree.
    """
    if not content.endswith(b"\n"):
        return _fail("truncated: the export does not end with a complete manifest line")
    start = content.rfind(b"\n", 0, len(content) - 1) + 1
    body, last = content[:start], content[start:].rstrip(b"\r\n")
    format: ExportFormat
    if last.startswith(CSV_MANIFEST_PREFIX):
        format, last = "csv", last[len(CSV_MANIFEST_PREFIX):]
    elif last.startswith(JSONL_MANIFEST_PREFIX):
        format = "jsonl"
    else:
        return _fail("truncated: the last line is not a manifest")
    try:
        manifest = json.loads(last)["manifest"]
        expected_count, expected_digest = int(manifest["count"]), str(manifest["sha256"])
    except (ValueError, KeyError, TypeError):
        return _fail("the manifest line is not a readable manifest")
    if manifest.get("format") != format:
        return _fail(f"the manifest says {manifest.get('format')!r} but the file is {format}", manifest=manifest)
    if hashlib.sha256(body).hexdigest() != expected_digest:
        return _fail("altered or truncated: the sha256 of the content is not the manifest's", manifest=manifest)
    body, accesses = _without_accesses(body, format)
    if accesses != manifest.get("access_count", 0):
        return _fail(f"{accesses} access-log rows, but the manifest counts {manifest.get('access_count', 0)}",
                     manifest=manifest)
    try:
        events = _events(body, format)
    except (ValueError, UnicodeDecodeError) as error:
        return _fail(f"unreadable: {error}", manifest=manifest)
    if len(events) != expected_count:
        return _fail(f"{len(events)} events, but the manifest counts {expected_count}", len(events), manifest)
    if (why := _why_events_do_not_hold(events, manifest)) is not None:
        return _fail(why, len(events), manifest)
    return ManifestCheck(ok=True, count=len(events), manifest=manifest)


def _instant(value: Any) -> datetime | None:
    if value is None:
        return None
    when = datetime.fromisoformat(value)
    if when.tzinfo is None:
        raise ValueError("no offset")
    return when


def _why_events_do_not_hold(events: list[dict[str, Any]], manifest: dict[str, Any]) -> str | None:
    try:
        since, until = _instant(manifest.get("since")), _instant(manifest.get("until"))
    except (TypeError, ValueError):
        return "the manifest's since or until is not an ISO 8601 time with its offset"
    case = manifest.get("case")
    try:
        keyring = Keyring.of([public_key(key["public_key"]) for key in manifest.get("keys", [])])
    except (KeyError, TypeError, ValueError):
        return "the manifest's keys are not public keys"
    last_of_case: dict[str, tuple[int, str]] = {}
    previous_key: tuple[datetime, str, int] | None = None
    for event in events:
        name = f"event {event['seq']} of case {event['case_id']}"
        try:
            entry = AuditEntry.model_validate(event)
        except ValueError:
            return f"{name} is not a well-formed audit event"
        if canonical_time(entry.at) != event["at"]:
            return f"{name}: its time is not in the export's form (UTC, microseconds)"
        if chain_hash(entry.prev_hash, hashed_fields(entry)) != entry.hash:
            return f"altered: {name} does not match its hash"
        if entry.signature is not None and (why := keyring.check(EVENT_CONTEXT, entry.hash, entry.key_id,
                                                                 entry.signature)):
            return f"{name}: {why}"
        if entry.personal is not None and (
            entry.personal_salt is None or personal_digest(entry.personal_salt, entry.personal) != entry.personal_digest
        ):
            return f"altered: the personal data of {name} does not match its digest"
        before = last_of_case.get(entry.case_id)
        if before is not None and before[0] + 1 == entry.seq and before[1] != entry.prev_hash:
            return f"altered: {name} does not link to the event before it"
        last_of_case[entry.case_id] = (entry.seq, entry.hash)
        key = (entry.at, entry.case_id, entry.seq)
        if previous_key is not None and key <= previous_key:
            return f"{name} is out of (at, case_id, seq) order"
        previous_key = key
        if (since is not None and entry.at < since) or (until is not None and entry.at >= until):
            return f"{name} lies outside the exported period"
        if case is not None and entry.case_id != case:
            return f"{name} is not of the exported case"
    first_at = events[0]["at"] if events else None
    last_at = events[-1]["at"] if events else None
    if (manifest.get("first_at"), manifest.get("last_at")) != (first_at, last_at):
        return "the manifest's first_at and last_at are not the first and last event's times"
    return None
