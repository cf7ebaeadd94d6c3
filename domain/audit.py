"""Audit entries and their hash chain: sha256 of the previous hash and the event's canonical JSON."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from domain.signing import EVENT_CONTEXT, Keyring, Signer

GENESIS_HASH = "0" * 64


class AuditEntry(BaseModel):
    """One event of a case's chain.

    From hash version 2 on, personal data (the applicant's contact) is kept apart in `personal`: the hash
    covers only its salted digest, so after the retention period the data and its salt can be erased
    (redacted) and the chain still verifies, while nothing about the erased data can be learnt back.
    """

    model_config = ConfigDict(frozen=True)

    case_id: str
    seq: int
    type: str
    actor: dict[str, Any]  # id, name, role, org; and on_behalf_of (the same four) for a stand-in (issue 21)
    at: datetime
    stage_before: str | None
    stage_after: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str
    hash_version: int = 1
    personal: dict[str, Any] | None = None
    personal_salt: str | None = None
    personal_digest: str | None = None
    key_id: str | None = None
    signature: str | None = None

    @property
    def redacted(self) -> bool:
        return self.personal_digest is not None and self.personal is None

    def full_payload(self) -> dict[str, Any]:
        """The payload as the event was recorded, with its personal data (or the redaction marks) back in."""
        if self.personal_digest is None:
            return self.payload
        return {**self.payload, **(self.personal if self.personal is not None else redacted_personal(self.payload))}


def canonical_time(at: datetime) -> str:
    """`at` in UTC, to the microsecond. A time that has no UTC form (asyncpg reads a stored '-infinity' as a naive
    year 1, which no event is recorded at) is printed as it is, so a verifier names its event altered."""
    try:
        return at.astimezone(UTC).isoformat(timespec="microseconds")
    except (OverflowError, ValueError):
        return at.isoformat(timespec="microseconds")


def canonical_json(fields: dict[str, Any]) -> str:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def chain_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical_json(fields)).encode()).hexdigest()


def as_jsonb_keeps(token: str) -> float | int:
    """A JSON number token as PostgreSQL's jsonb gives it back, for the hash to cover what the table will print.

    jsonb keeps a number as `numeric`, which has no negative zero and prints no exponent: `-0.0` comes back as
    `0.0`, and a float Python prints in exponent form from 1e16 on (`1e+16`, `1.2345678901234567e+20`) as the
    integer it denotes (`10000000000000000`, `123456789012345670000`), so an event holding one would not verify.
    Those are taken as jsonb will print them; every other float is Python's own (a small one, `1e-07`, prints
    as `0.0000001` but reads back as the same float, whose canonical form is the same). Events written before
    hashed none of these intact, so no hash that held changes.
    """
    value = float(token)
    if value == 0:
        return 0.0
    if "e+" in token:  # `canonical_json` writes Python's repr: a positive exponent always with its sign
        return int(Decimal(token))
    return value


def hashed_fields(entry: AuditEntry) -> dict[str, Any]:
    """The fields the hash covers, exactly as a verifier rebuilds them from a stored row."""
    fields = {
        "case_id": entry.case_id,
        "seq": entry.seq,
        "type": entry.type,
        "actor": entry.actor,
        "at": canonical_time(entry.at),
        "stage_before": entry.stage_before,
        "stage_after": entry.stage_after,
        "payload": entry.payload,
    }
    if entry.hash_version >= 2:
        fields["personal_digest"] = entry.personal_digest
    return fields


# The personal data an event may carry: the applicant's contact person, given at filing.
PERSONAL_KEYS = frozenset({"contact"})
REDACTED = "[redacted]"


def personal_digest(salt: str, personal: dict[str, Any]) -> str:
    return hashlib.sha256((salt + canonical_json(personal)).encode()).hexdigest()


def split_personal(payload: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The payload without its personal data, and that data (None when it carries none)."""
    personal = {key: payload[key] for key in PERSONAL_KEYS if key in payload}
    return {k: v for k, v in payload.items() if k not in PERSONAL_KEYS}, personal or None


def redacted_personal(payload: dict[str, Any]) -> dict[str, Any]:
    """What stands in for erased personal data: the same shape, nothing of the person."""
    del payload
    return {"contact": {"name": REDACTED, "email": "redacted@redacted.example", "language": "en"}}


def make_entry(
    *,
    case_id: str,
    seq: int,
    type: str,
    actor: dict[str, Any],
    at: datetime,
    stage_before: str | None,
    stage_after: str,
    payload: dict[str, Any],
    prev_hash: str,
    salt: str | None = None,
) -> AuditEntry:
    """A chained event. With a `salt` (random, kept only until redaction) it is of hash version 2: its
    personal data is kept apart and only its salted digest is hashed."""
    # Round-trip the payload through JSON so the hash covers exactly what storage (jsonb) will hold.
    payload = json.loads(canonical_json(payload), parse_float=as_jsonb_keeps)
    personal: dict[str, Any] | None = None
    version, digest = 1, None
    if salt is not None:
        version = 2
        payload, personal = split_personal(payload)
        digest = personal_digest(salt, personal) if personal is not None else None
    draft = AuditEntry(
        case_id=case_id, seq=seq, type=type, actor=actor, at=at, stage_before=stage_before,
        stage_after=stage_after, payload=payload, prev_hash=prev_hash, hash="", hash_version=version,
        personal=personal, personal_salt=salt if personal is not None else None, personal_digest=digest,
    )
    return draft.model_copy(update={"hash": chain_hash(prev_hash, hashed_fields(draft))})


def sign(entry: AuditEntry, signer: Signer) -> AuditEntry:
    """The event signed by the recording step: the signature covers its hash (and so everything hashed)."""
    return entry.model_copy(update={"key_id": signer.key_id, "signature": signer.sign(EVENT_CONTEXT, entry.hash)})


def redact(entry: AuditEntry) -> AuditEntry:
    """The event with its personal data and salt erased; its hash (over the digest) still holds."""
    if entry.personal is None:
        return entry
    return entry.model_copy(update={"personal": None, "personal_salt": None})


class ChainReport(BaseModel):
    """What a verifier found: intact, or the first event that breaks the chain and why."""

    valid: bool
    events: int
    first_broken_seq: int | None = None
    reason: str | None = None
    signed: int = Field(0, description="Events whose signature was checked and holds")
    unsigned: int = Field(
        0, description="Events recorded before events were signed, each held by a signed checkpoint (an unsigned "
        "event no checkpoint holds is a break)",
    )
    checkpoint: str | None = Field(
        None, description="The checkpoint the trail contradicts (truncated or rewritten), when that is the break",
    )


REDACTION_EVENT = "personal_data_redacted"
"""The event that records the erasure of a case's personal data (after the retention period)."""


class EventRow(NamedTuple):
    """A stored event as verifiers that read millions take it: `AuditEntry`'s fields, in the table's column
    order, without a model's validation (building a model per event costs more than hashing it). Its JSON
    columns (`actor`, `payload`, `personal`) are the text PostgreSQL prints for jsonb, and `at` is already its
    `canonical_time`: `domain.stored_events` hashes them without decoding more than it must."""

    case_id: str
    seq: int
    type: str
    actor: str
    at: str
    stage_before: str | None
    stage_after: str
    payload: str
    prev_hash: str
    hash: str
    hash_version: int
    personal: str | None
    personal_salt: str | None
    personal_digest: str | None
    key_id: str | None
    signature: str | None

    @property
    def redacted(self) -> bool:
        return self.personal_digest is not None and self.personal is None


ChainEvent = AuditEntry | EventRow
SignatureCheck = tuple[int, str, str | None, str | None]
"""An event's signature still to check: (seq, hash, key_id, signature)."""


def link_problem(entry: AuditEntry, prev: str) -> str | None:
    """Why `entry` does not hold after the event whose hash is `prev` (its link, its content against its hash,
    its personal data against its digest), or None."""
    if entry.prev_hash != prev:
        return "its prev_hash is not the hash of the event before it"
    if chain_hash(prev, hashed_fields(entry)) != entry.hash:
        return "its content does not match its hash: the event was altered"
    if entry.personal is not None and (
        entry.personal_salt is None or personal_digest(entry.personal_salt, entry.personal) != entry.personal_digest
    ):
        return "its personal data does not match its digest: the personal data was altered"
    return None


NO_EVENTS = "the case is on record, but its trail holds no event: they were removed"
"""Why the trail of a case on record, whose every event is gone, is broken (at event 1)."""


def misplaced(expected: int) -> str:
    """Why the event found where event `expected` belongs breaks the chain."""
    return f"expected event {expected} here: an event is missing or out of order"


def out_of_place(seqs: Sequence[int]) -> tuple[int, str] | None:
    """The seq of the first event not where its seq puts it (a case's seqs run 1, 2, 3… in order) and why, or
    event 1 and `NO_EVENTS` for a trail of none; None when every event is in its place."""
    if not seqs:
        return 1, NO_EVENTS
    for expected, seq in enumerate(seqs, start=1):
        if seq != expected:
            return seq, misplaced(expected)
    return None


def stored_event_problem(entry: AuditEntry, prev: str, keyring: Keyring) -> str | None:
    """Why a stored event cannot be the one the recording step wrote after the event whose hash is `prev`
    (`link_problem`, or its signature: the recording step signs every event), or None."""
    return link_problem(entry, prev) or keyring.check(EVENT_CONTEXT, entry.hash, entry.key_id, entry.signature)


def chain_links(entries: Sequence[ChainEvent], signatures: bool = True, *,
                verified_through: tuple[int, str] | None = None,
                link: Callable[[Any, str], str | None] = link_problem) -> tuple[ChainReport, list[SignatureCheck]]:
    """Everything `verify_chain` checks but the Ed25519 signatures themselves: the report of the links, hashes,
    digests and redactions (and of an unsigned event after a signed one), and the signatures of the events
    before the first break, still to check (none when not `signatures`). `settle` finishes the report with
    their results: a caller can check the signatures of many chains at once (`Keyring.check_all`), or only the
    head's (`by_head`).

    `verified_through` (seq, hash): the head a verified checkpoint holds, whose chain was verified when it was
    signed. Events up to it keep every check but their signature's (counted as signed when they carry one):
    their hashes, recomputed up to that head, show they are the ones verified then. That event must still hold
    that hash. `link`: how one event is held against the hash before it (`link_problem` for `AuditEntry`,
    `domain.stored_events.stored_link_problem` for `EventRow`).
    """
    prev = GENESIS_HASH
    unsigned = presigned = 0
    any_signed = False
    checks: list[SignatureCheck] = []
    through_seq, through_hash = verified_through or (0, "")
    # The events each recorded redaction names (only earlier ones): an erasure must be one of them.
    covered = {seq for entry in entries if entry.type == REDACTION_EVENT
               for seq in erased_by(entry.seq, _payload(entry))}
    for expected_seq, entry in enumerate(entries, start=1):
        reason = None
        if entry.seq != expected_seq:
            reason = misplaced(expected_seq)
        elif (reason := link(entry, prev)) is not None:
            pass
        elif entry.redacted and entry.seq not in covered:
            reason = "its personal data was erased, but no redaction is recorded after it"
        elif entry.seq == through_seq and entry.hash != through_hash:
            reason = "it is not the event the last verified checkpoint holds: the trail was rewritten"
        elif signatures:
            if entry.signature is None and entry.key_id is None and not any_signed:
                unsigned += 1
            elif entry.signature is None and entry.key_id is None:
                reason = "it is not signed, though an earlier event of its chain is: not written by the Case Desk"
            elif entry.seq <= through_seq:
                any_signed, presigned = True, presigned + 1
            else:
                any_signed = True
                checks.append((entry.seq, entry.hash, entry.key_id, entry.signature))
        if reason is not None:
            return ChainReport(valid=False, events=len(entries), first_broken_seq=entry.seq, reason=reason,
                               signed=presigned, unsigned=unsigned), checks
        prev = entry.hash
    return ChainReport(valid=True, events=len(entries), signed=presigned, unsigned=unsigned), checks


def settle(report: ChainReport, checks: list[SignatureCheck], problems: Sequence[str | None]) -> ChainReport:
    """`report` of `chain_links` with its `checks`' results (`problems`, one each, None for a signature that
    holds): the first bad signature comes before any other break, since `checks` stop at that break."""
    for signed, ((seq, *_), problem) in enumerate(zip(checks, problems, strict=True)):
        if problem is not None:
            return ChainReport(valid=False, events=report.events, first_broken_seq=seq, reason=problem,
                               signed=report.signed + signed, unsigned=report.unsigned)
    return report.model_copy(update={"signed": report.signed + len(checks)})


def erased_by(seq: int, payload: dict[str, Any]) -> list[int]:
    """The events a redaction recorded at `seq` with `payload` names, as it may: only earlier ones, as a list of
    integers (anything else names none: the recording step writes that list, and a verifier must not fail on
    what else a row may hold)."""
    named = payload.get("events", [])
    return [n for n in named if type(n) is int and n < seq] if isinstance(named, list) else []


def _payload(entry: ChainEvent) -> dict[str, Any]:
    """The event's payload as an object ({} for any other JSON, or JSON nested deeper than the standard library
    reads: RecursionError, never recorded, and then named where its hash fails)."""
    try:
        payload = json.loads(entry.payload) if isinstance(entry.payload, str) else entry.payload
    except RecursionError:
        return {}
    return payload if isinstance(payload, dict) else {}


def by_head(report: ChainReport, checks: list[SignatureCheck]) -> tuple[ChainReport, list[SignatureCheck]]:
    """The signatures left to check when a chain that holds is vouched for by its head: only the head's (the
    others are counted as signed, to be settled with that one), and every one of a chain that does not hold
    (so the first forged event before its break is named). Why the head suffices: README, "For auditors".

    If the head's signature fails, `settle` the full `checks` instead: the case is checked event by event."""
    if not report.valid or len(checks) <= 1:
        return report, checks
    return report.model_copy(update={"signed": report.signed + len(checks) - 1}), checks[-1:]


def verify_chain(entries: Sequence[ChainEvent], keyring: Keyring | None = None, *,
                 every_signature: bool = True) -> ChainReport:
    """The chain's links, hashes and personal digests, and — given a `keyring` — its signatures: every event's,
    or (not `every_signature`) its head's, and every event's only when the head's fails (`by_head`).

    An unsigned event is counted as unsigned (recorded before signing began) while no earlier event of its
    chain is signed; after a signed one it is a break: only someone without the key writes an unsigned event
    once the chain is signed. Whether a signed checkpoint holds the unsigned ones (else they are a break too) is
    `domain.checkpoints.anchored`'s to say, with the case's anchor. Without a keyring signatures are not looked
    at (`signed` and `unsigned` stay 0).
    """
    report, checks = chain_links(entries, keyring is not None)
    if keyring is None:
        return report
    if not every_signature:
        quick, head = by_head(report, checks)
        settled = settle(quick, head, keyring.check_all(EVENT_CONTEXT, [(h, k, s) for _, h, k, s in head]))
        if settled.valid or len(head) == len(checks):
            return settled
    return settle(report, checks, keyring.check_all(EVENT_CONTEXT, [(h, k, s) for _, h, k, s in checks]))


def first_broken(entries: Sequence[ChainEvent]) -> int | None:
    """The seq of the first event whose link or hash does not hold, or None when the chain is intact."""
    return verify_chain(entries).first_broken_seq
