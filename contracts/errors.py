"""The `type` of every ApplicationError that crosses Temporal, named once for the raiser and the reader.

A refusal by the rules carries its `domain.rules.RefusalKind` as its type (`not_visible`, `forbidden`,
`illegal_stage`, `invalid`) and the `Refusal` as its details; the types below are the others.
"""

from __future__ import annotations

from domain.rules import RefusalKind

INVALID = str(RefusalKind.INVALID)
"""The payload does not fit the action (details: `{"kind": "invalid", "action", "errors": [...]}`)."""
NOT_FILED = "not_filed"
"""An action reached a case whose filing the workflow has not taken in yet: send it again shortly."""
UNKNOWN_ACTION = "unknown_action"
"""An Update named after no action."""
UNSTORABLE = "unstorable"
"""The database refused the event as data (e.g. a value out of range): nothing was recorded."""
STEP_FAILED = "step_failed"
"""A step (an activity) failed for good — an input it cannot handle, or a bug — after its bounded attempts
(details: `{"step", "error", "attempts"}`); nothing was recorded and the case is as it was."""
KEY_USED = "idempotency_key_used"
"""The Idempotency-Key was already bound to another event (details: its `domain.idempotency.KeyUse`); nothing
was recorded."""
STORED_EVENT_INVALID = "stored_event_invalid"
"""The event's (case, seq) is already stored, but that row does not verify (hash, link or signature): someone
without the key wrote it. Nothing is recorded; the step is an incident until an operator removes the row."""
