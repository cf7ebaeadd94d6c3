"""Hashing events as PostgreSQL prints them (`EventRow`), fast: the same bytes as `domain.audit`'s canonical JSON.

The verifiers that read the whole trail take each event's JSON columns as the text PostgreSQL prints for jsonb,
not as decoded objects. orjson decodes them and writes the canonical form (`OPT_SORT_KEYS`: keys in code-point
order, no spaces, UTF-8 as is), whose bytes are those of `canonical_json` except in two places, where the
standard library's way is taken instead:

* an integer beyond 64 bits, which orjson decodes as a float: printed in exponent form (≥ 9.2e18), so its output
  holds `e+`;
* a float below 1e-4 (and not 0), which Python prints in exponent form with at least two exponent digits
  (`1e-07`) and orjson as `0.0000…` or with one (`1e-7`).

So an output holding a number token (after `:`, `,` or `[`, or the whole output) in exponent form or starting
`0.0000` is made again by the standard library (the same within a string only costs time), as is any text orjson
refuses. The property
tests of `tests/unit/test_stored_events.py` hold both ways side by side over generated data (non-ASCII, floats
of every size, big integers, nesting).

Kept apart from `domain.audit`, which workflows import: orjson is needed only by the verifiers.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import orjson

from domain.audit import canonical_json
from domain.chain_verification import EventRow

_DIFFERS = re.compile(rb"(?:^|[:,\[])-?(?:[0-9.]+e[-+]|0\.0000)")
"""A number token in exponent form, or a fraction below 1e-4, in orjson's compact output (the whole output, when
the JSON is a bare number)."""
_ORJSON_ERRORS = (orjson.JSONDecodeError, orjson.JSONEncodeError, TypeError)


def _same_as_stdlib(out: bytes) -> bool:
    """Whether orjson's `out` can be trusted to be `canonical_json`'s bytes (see the module's docstring)."""
    if b"e-" not in out and b"e+" not in out and b"0.0000" not in out:  # most events: no regex to run
        return True
    return _DIFFERS.search(out) is None


def stored_content(entry: EventRow) -> bytes:
    """The canonical JSON (UTF-8) of the fields an event's hash covers (`domain.audit.hashed_fields`)."""
    try:
        out = orjson.dumps(_fields(entry, orjson.loads(entry.actor), orjson.loads(entry.payload)),
                           option=orjson.OPT_SORT_KEYS)
    except _ORJSON_ERRORS:
        pass
    else:
        if _same_as_stdlib(out):
            return out
    return canonical_json(_fields(entry, json.loads(entry.actor), json.loads(entry.payload))).encode()


def _fields(entry: EventRow, actor: Any, payload: Any) -> dict[str, Any]:
    fields = {"case_id": entry.case_id, "seq": entry.seq, "type": entry.type, "actor": actor, "at": entry.at,
              "stage_before": entry.stage_before, "stage_after": entry.stage_after, "payload": payload}
    if entry.hash_version >= 2:
        fields["personal_digest"] = entry.personal_digest
    return fields


def canonical_text(text: str | bytes) -> bytes:
    """`canonical_json` (UTF-8) of the value a stored JSON text holds (PostgreSQL's jsonb text, or any JSON)."""
    try:
        out = orjson.dumps(orjson.loads(text), option=orjson.OPT_SORT_KEYS)
    except _ORJSON_ERRORS:
        pass
    else:
        if _same_as_stdlib(out):
            return out
    return canonical_json(json.loads(text)).encode()


def stored_personal(salt: str, personal: str) -> str:
    """`domain.audit.personal_digest` of personal data given as its stored JSON text."""
    return hashlib.sha256(salt.encode() + canonical_text(personal)).hexdigest()


def stored_link_problem(entry: EventRow, prev: str) -> str | None:
    """`domain.chain_verification.link_problem` of a stored row: its link, its content against its hash, its
    personal data against its digest."""
    if entry.prev_hash != prev:
        return "its prev_hash is not the hash of the event before it"
    try:  # JSON nested deeper than the standard library reads (RecursionError) was never hashed by the desk
        content = stored_content(entry)
    except RecursionError:
        content = b""
    if hashlib.sha256(prev.encode() + content).hexdigest() != entry.hash:
        return "its content does not match its hash: the event was altered"
    if entry.personal is not None and (
        entry.personal_salt is None or _personal_or_none(entry.personal_salt, entry.personal) != entry.personal_digest
    ):
        return "its personal data does not match its digest: the personal data was altered"
    return None


def _personal_or_none(salt: str, personal: str) -> str | None:
    """`stored_personal`, or None for JSON nested deeper than the standard library reads (never recorded)."""
    try:
        return stored_personal(salt, personal)
    except RecursionError:
        return None
