"""What an Idempotency-Key is bound to: the request it was first sent with, as a fingerprint.

The same caller with the same key means the same request — the same case, the same action, the same payload
(compared as canonical JSON, so key order and spacing do not matter). Anything else sent with that key is a
different request, refused rather than answered with the first one's result.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

KEY_CHARS = 200
"""The longest Idempotency-Key taken (printable characters only)."""
FILING = "file"
"""The action name a filing's key is bound to."""


def fingerprint(case_id: str, action: str, payload: dict[str, Any]) -> str:
    """SHA-256 (hex) of the request: case, action and payload as canonical JSON."""
    canonical = json.dumps([case_id, action, payload], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class KeyClaim(BaseModel):
    """A request's claim on a key, carried to the step that records its event (written in its transaction)."""

    model_config = ConfigDict(frozen=True)

    caller_id: str
    key: str = Field(max_length=KEY_CHARS)
    fingerprint: str
    expires_at: datetime


class KeyUse(BaseModel):
    """What a key was first used for, as remembered."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    action: str
    fingerprint: str
    seq: int
