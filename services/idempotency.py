"""Idempotency-Keys as the case desk honours them (the IETF Idempotency-Key header draft, where it fits).

A key belongs to its caller and is bound, by the step that records the event, to the request it came with
(`domain.idempotency.fingerprint`). Sent again with the same request it is answered, applied once, whether
the first is still in flight, done, or done before a continue-as-new; with a different request it is refused
(`KeyReused`); after `IDEMPOTENCY_TTL_HOURS` it is forgotten.
A keyed filing names its case by its caller, its key and its request (`case_id_for`): sent again, it is
the same case.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.errors import InvalidInput, KeyReused
from domain.idempotency import FILING, KEY_CHARS, KeyClaim, KeyUse, fingerprint
from domain.model import Actor
from infra.idempotency import key_use
from services.context import Services

IDEMPOTENCY_NAMESPACE = uuid.UUID("b0b5a3f2-1c55-4c9e-8d1e-3d8a4c7e2f60")


def case_id_for(actor: Actor, idempotency_key: str | None, request: dict[str, Any] | None = None) -> str:
    """The same caller with the same Idempotency-Key and the same filing (JSON) always names the same case; a
    different filing with that key names another (which the key, bound to the first, then refuses)."""
    if idempotency_key is None:
        return str(uuid.uuid4())
    digest = fingerprint("", FILING, request or {})[:16]
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{actor.id}:{idempotency_key}:{digest}"))


def legacy_case_id_for(actor: Actor, idempotency_key: str) -> str:
    """The case a keyed filing named before keys were bound to their request (the key alone named it)."""
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{actor.id}:{idempotency_key}"))


def claim_for(services: Services, actor: Actor, key: str | None, case_id: str, action: str,
              payload: dict[str, Any]) -> KeyClaim | None:
    """The claim a keyed request makes (None without a key)."""
    if key is None:
        return None
    if not 1 <= len(key) <= KEY_CHARS or not key.isprintable():
        raise InvalidInput([{"loc": ["header", "Idempotency-Key"], "type": "value_error",
                             "msg": f"an Idempotency-Key is 1 to {KEY_CHARS} printable characters"}])
    expires = datetime.now(UTC) + timedelta(hours=services.settings.idempotency_ttl_hours)
    return KeyClaim(caller_id=actor.id, key=key, fingerprint=fingerprint(case_id, action, payload),
                    expires_at=expires)


async def earlier_use(services: Services, claim: KeyClaim | None) -> KeyUse | None:
    """What the key was used for already, when it was, and for this very request; `KeyReused` when it was
    used for another."""
    if claim is None:
        return None
    use = await key_use(services.lone_statements, claim.caller_id, claim.key)  # one SELECT: no BEGIN/ROLLBACK trips
    if use is not None and use.fingerprint != claim.fingerprint:
        raise KeyReused(use)
    return use
