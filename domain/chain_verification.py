"""Verifying a case's hash chain: its links, hashes, personal digests, redactions and signatures, and what a
verifier reports of it (`ChainReport`).

The chain itself (events, their canonical JSON and hashes) is `domain.audit`'s; a chain is checked here either as
`AuditEntry`s or as `EventRow`s, the stored form verifiers that read millions take.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from pydantic import BaseModel, Field

from domain.audit import GENESIS_HASH, REDACTION_EVENT, AuditEntry, chain_hash, hashed_fields, personal_digest
from domain.signing import EVENT_CONTEXT, Keyring


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
