"""Audit entries and their hash chain: sha256 of the previous hash and the event's canonical JSON."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

GENESIS_HASH = "0" * 64


class AuditEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    case_id: str
    seq: int
    type: str
    actor: dict[str, str]
    at: datetime
    stage_before: str | None
    stage_after: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


def canonical_time(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_json(fields: dict[str, Any]) -> str:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def chain_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical_json(fields)).encode()).hexdigest()


def hashed_fields(entry: AuditEntry) -> dict[str, Any]:
    """The fields the hash covers, exactly as a verifier rebuilds them from a stored row."""
    return {
        "case_id": entry.case_id,
        "seq": entry.seq,
        "type": entry.type,
        "actor": entry.actor,
        "at": canonical_time(entry.at),
        "stage_before": entry.stage_before,
        "stage_after": entry.stage_after,
        "payload": entry.payload,
    }


def make_entry(
    *,
    case_id: str,
    seq: int,
    type: str,
    actor: dict[str, str],
    at: datetime,
    stage_before: str | None,
    stage_after: str,
    payload: dict[str, Any],
    prev_hash: str,
) -> AuditEntry:
    # Round-trip the payload through JSON so the hash covers exactly what storage will hold.
    payload = json.loads(canonical_json(payload))
    draft = AuditEntry(
        case_id=case_id, seq=seq, type=type, actor=actor, at=at, stage_before=stage_before,
        stage_after=stage_after, payload=payload, prev_hash=prev_hash, hash="",
    )
    return draft.model_copy(update={"hash": chain_hash(prev_hash, hashed_fields(draft))})


class ChainReport(BaseModel):
    """What a verifier found: intact, or the first event that breaks the chain and why."""

    valid: bool
    events: int
    first_broken_seq: int | None = None
    reason: str | None = None


def verify_chain(entries: list[AuditEntry]) -> ChainReport:
    prev = GENESIS_HASH
    for expected_seq, entry in enumerate(entries, start=1):
        reason = None
        if entry.seq != expected_seq:
            reason = f"expected event {expected_seq} here: an event is missing or out of order"
        elif entry.prev_hash != prev:
            reason = "its prev_hash is not the hash of the event before it"
        elif chain_hash(prev, hashed_fields(entry)) != entry.hash:
            reason = "its content does not match its hash: the event was altered"
        if reason is not None:
            return ChainReport(valid=False, events=len(entries), first_broken_seq=entry.seq, reason=reason)
        prev = entry.hash
    return ChainReport(valid=True, events=len(entries))


def first_broken(entries: list[AuditEntry]) -> int | None:
    """The seq of the first event whose link or hash does not hold, or None when the chain is intact."""
    return verify_chain(entries).first_broken_seq
