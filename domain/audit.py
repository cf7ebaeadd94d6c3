"""Audit entries and their hash chain: sha256 of the previous hash and the event's canonical JSON.

Verifying a chain is `domain.chain_verification`'s.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from domain.signing import EVENT_CONTEXT, Signer

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


REDACTION_EVENT = "personal_data_redacted"
"""The event that records the erasure of a case's personal data (after the retention period)."""
