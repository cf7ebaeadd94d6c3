"""Signed events the Case Desk itself writes onto a trail, not a workflow's recording step: the voiding of events
no workflow took (`activities.strangers`), an event on a finished case's trail (`infra.closed_cases`), the erasure
of personal data (`infra.retention`) and the oversight chain's records (`infra.oversight`). Each is chained after
the trail's last event, as the caller read it under its lock, and signed as the recording step signs
(`domain.audit.sign`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.audit import AuditEntry, make_entry, sign
from domain.model import SYSTEM_ACTOR, Actor
from domain.signing import Signer


def signed_event_after(*, case_id: str, last_seq: int, last_hash: str, type: str, at: datetime,
                       stage_before: str | None, stage_after: str, payload: dict[str, Any], signer: Signer,
                       actor: Actor = SYSTEM_ACTOR, salt: str | None = None) -> AuditEntry:
    """The event `type` chained after the trail's last event (`last_seq`, `last_hash`; 0 and `GENESIS_HASH` for
    an empty trail): at seq `last_seq + 1` with `prev_hash` `last_hash`, by `actor` (`system` unless an operator
    acted), signed with `signer` (AUDIT_SIGNING_KEY). With a `salt` it is of hash version 2, its personal data kept
    apart (`domain.audit.make_entry`)."""
    return sign(make_entry(
        case_id=case_id, seq=last_seq + 1, type=type, actor=actor.model_dump(mode="json"), at=at,
        stage_before=stage_before, stage_after=stage_after, payload=payload, prev_hash=last_hash, salt=salt,
    ), signer)
