"""Hashing events as PostgreSQL prints them (`EventRow`), fast: the same bytes as `domain.audit`'s canonical JSON.

The verifiers that read the whole trail take each event's JSON columns as the text PostgreSQL prints for jsonb,
not as decoded objects. Where the text holds no number with a fraction or an exponent and no integer of 19 digits
or more (PostgreSQL prints a jsonb number with neither exponent nor lost digits), orjson decodes it and writes
the canonical form (`OPT_SORT_KEYS`: keys in code-point order, no spaces, UTF-8 as is): for such data — objects,
arrays, strings, booleans, null and integers within 64 bits — its bytes are those of `canonical_json` (the
property tests of `tests/unit/test_stored_events.py` hold them side by side). Anything else (a float, a big
integer, a text orjson refuses) goes the standard library's way, as `canonical_json` does. The gate may send
plain data the slow way (a "1." inside a string), never the other way round.

Kept apart from `domain.audit`, which workflows import: orjson is needed only by the verifiers.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import orjson

from domain.audit import EventRow, canonical_json

_NOT_PLAIN = re.compile(r"[:\[,] ?-?\d+[.eE]|\d{19}")
"""A number token with a fraction or an exponent, or a run of 19+ digits (an integer perhaps beyond 64 bits)."""
_ORJSON_ERRORS = (orjson.JSONDecodeError, orjson.JSONEncodeError, TypeError)


def _plain(*texts: str | None) -> bool:
    return not any(text is not None and _NOT_PLAIN.search(text) for text in texts)


def stored_content(entry: EventRow) -> bytes:
    """The canonical JSON (UTF-8) of the fields an event's hash covers (`domain.audit.hashed_fields`)."""
    if _plain(entry.actor, entry.payload):
        try:
            return orjson.dumps(_fields(entry, orjson.loads(entry.actor), orjson.loads(entry.payload)),
                                option=orjson.OPT_SORT_KEYS)
        except _ORJSON_ERRORS:
            pass
    return canonical_json(_fields(entry, json.loads(entry.actor), json.loads(entry.payload))).encode()


def _fields(entry: EventRow, actor: Any, payload: Any) -> dict[str, Any]:
    fields = {"case_id": entry.case_id, "seq": entry.seq, "type": entry.type, "actor": actor, "at": entry.at,
              "stage_before": entry.stage_before, "stage_after": entry.stage_after, "payload": payload}
    if entry.hash_version >= 2:
        fields["personal_digest"] = entry.personal_digest
    return fields


def stored_personal(salt: str, personal: str) -> str:
    """`domain.audit.personal_digest` of personal data given as its stored JSON text."""
    if _plain(personal):
        try:
            return hashlib.sha256(salt.encode() + orjson.dumps(orjson.loads(personal), option=orjson.OPT_SORT_KEYS)
                                  ).hexdigest()
        except _ORJSON_ERRORS:
            pass
    return hashlib.sha256((salt + canonical_json(json.loads(personal))).encode()).hexdigest()


def stored_link_problem(entry: EventRow, prev: str) -> str | None:
    """`domain.audit.link_problem` of a stored row: its link, its content against its hash, its personal data
    against its digest."""
    if entry.prev_hash != prev:
        return "its prev_hash is not the hash of the event before it"
    if hashlib.sha256(prev.encode() + stored_content(entry)).hexdigest() != entry.hash:
        return "its content does not match its hash: the event was altered"
    if entry.personal is not None and (
        entry.personal_salt is None or stored_personal(entry.personal_salt, entry.personal) != entry.personal_digest
    ):
        return "its personal data does not match its digest: the personal data was altered"
    return None
