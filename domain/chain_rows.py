"""A case's stored rows (`domain.stored_rows`) linked and hashed as `domain.chain_verification.chain_links` does.

`quick_links` checks a case's rows as `domain.chain_verification.chain_links` does and gives its very result when every
event holds: the canonical JSON each hash covers is put together from the columns' bytes (each actor's JSON
made canonical once per distinct actor, the other text columns quoted once per distinct value). When anything
does not hold (or the rows are not in the shapes it takes), it gives None and the caller takes the exact path:
`event_row` of each row, then `chain_links` with `domain.stored_events.stored_link_problem`, which names the
break. So it never decides a verdict but "intact", and that only when each hash is the one recomputed here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from domain.audit import GENESIS_HASH, REDACTION_EVENT
from domain.chain_verification import ChainReport, EventRow, SignatureCheck, chain_links, erased_by
from domain.stored_events import canonical_text, stored_link_problem
from domain.stored_rows import DamagedRow, Row, canonical_at, column_text, event_row, where_damaged

_GENESIS = GENESIS_HASH.encode()
_REDACTION = REDACTION_EVENT.encode()
_CACHED = 4096
"""Distinct actors (and other repeated values) remembered between cases before the memory is cleared."""


def links(rows: Sequence[Row], canonical: Canonical, verified_through: tuple[int, str] | None = None,
          ) -> tuple[ChainReport, list[SignatureCheck], list[str]]:
    """`chain_links` of a case's rows (in seq order, at least one) with each event's hash up to its first break:
    `quick_links` when every event holds, else the exact path (`event_row`, `stored_link_problem`), which names
    the break — a damaged row (`DamagedRow`) too, unless an earlier event breaks the chain first."""
    linked = quick_links(rows, canonical, verified_through)
    if linked is not None:
        return linked
    entries: list[EventRow] = []
    damaged = None
    for row in rows:
        try:
            entries.append(event_row(row))
        except DamagedRow as error:
            damaged = error
            break
    report, checks = chain_links(entries, verified_through=verified_through, link=stored_link_problem)
    report = report.model_copy(update={"events": len(rows)})
    if report.valid and damaged is not None:  # the events before it hold: it breaks the chain
        broken = where_damaged([entry.seq for entry in entries], damaged)
        report = report.model_copy(update={"valid": False, "first_broken_seq": broken.seq, "reason": broken.reason})
    return report, checks, [entry.hash for entry in entries]


class Canonical:
    """What is remembered between cases: each distinct actor's canonical JSON and each text column's JSON."""

    def __init__(self) -> None:
        self.actors: dict[bytes, bytes] = {}
        self.texts: dict[bytes | None, bytes] = {None: b"null"}

    def actor(self, text: bytes) -> bytes:
        found = self.actors.get(text)
        if found is None:
            if len(self.actors) >= _CACHED:
                self.actors.clear()
            found = self.actors[text] = canonical_text(text)
        return found

    def text(self, value: bytes | None) -> bytes:
        """A text column as a JSON string (None: null)."""
        found = self.texts.get(value)
        if found is None:
            assert value is not None
            if len(self.texts) >= _CACHED:
                self.texts = {None: b"null"}
            found = self.texts[value] = json.dumps(value.decode(), ensure_ascii=False).encode()
        return found


def _digest(value: bytes | None, canonical: Canonical) -> bytes:
    """`personal_digest` as a JSON string: a hex digest needs no escape (and is not worth remembering)."""
    return b'"' + value + b'"' if value is not None and value.isalnum() else canonical.text(value)


def quick_links(rows: Sequence[Row], canonical: Canonical, verified_through: tuple[int, str] | None = None,
                ) -> tuple[ChainReport, list[SignatureCheck], list[str]] | None:
    """`chain_links(entries, verified_through=…, link=stored_link_problem)` of one case's rows (in seq order) when
    every event holds, with each event's hash (for `domain.checkpoints.anchored`); None when one does not (or
    may not) hold, which only the exact path (`event_row`, `chain_links`) names: also for JSON nested deeper than
    the standard library reads (RecursionError), which no recorded event holds."""
    try:
        return _quick_links(rows, canonical, verified_through)
    except RecursionError:
        return None


def _quick_links(rows: Sequence[Row], canonical: Canonical, verified_through: tuple[int, str] | None,
                 ) -> tuple[ChainReport, list[SignatureCheck], list[str]] | None:
    through_seq, through_hash = verified_through or (0, "")
    first = rows[0][0]
    case_id = b'"' + (first or b"") + b'"'  # a uuid's text: nothing to escape
    covered = {named for row in rows if row[2] == _REDACTION and row[1] and row[7]
               for named in erased_by(int(row[1]), _object(row[7]))}
    prev, hashes, checks = _GENESIS, [], []
    unsigned = presigned = 0
    any_signed = False
    for expected, (of_case, seq, kind, actor, at, before, after, payload, prev_hash, hash_, version, personal, salt,
                   digest, key_id, signature) in enumerate(rows, start=1):
        if seq is None or int(seq) != expected or prev_hash != prev or actor is None or at is None \
                or payload is None or hash_ is None or version is None or of_case != first or first is None:
            return None
        content = b"".join((b'{"actor":', canonical.actor(actor), b',"at":"', canonical_at(at), b'","case_id":',
                            case_id, b',"payload":', canonical_text(payload),
                            b',"personal_digest":' + _digest(digest, canonical) if int(version) >= 2 else b"",
                            b',"seq":', seq, b',"stage_after":', canonical.text(after), b',"stage_before":',
                            canonical.text(before), b',"type":', canonical.text(kind), b"}"))
        text = hash_.decode()
        if hashlib.sha256(prev + content).hexdigest() != text:
            return None
        if personal is not None and personal != b"null":
            if salt is None or digest is None or \
                    hashlib.sha256(salt + canonical_text(personal)).hexdigest() != digest.decode():
                return None
        elif digest is not None and expected not in covered:  # redacted, and no later redaction names it
            return None
        if expected == through_seq and text != through_hash:
            return None
        if signature is None and key_id is None:
            if any_signed:
                return None
            unsigned += 1
        elif expected <= through_seq:
            any_signed, presigned = True, presigned + 1
        else:
            any_signed = True
            checks.append((expected, text, column_text(key_id), column_text(signature)))
        hashes.append(text)
        prev = hash_
    return ChainReport(valid=True, events=len(rows), signed=presigned, unsigned=unsigned), checks, hashes


def _object(payload: bytes) -> dict[str, object]:
    value = json.loads(payload)
    return value if isinstance(value, dict) else {}
