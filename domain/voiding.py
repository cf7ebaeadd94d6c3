"""Events no workflow took, and the event that voids them.

An Update records its event with a local activity (issue 15): in the very workflow task that accepts the Update,
before Temporal has stored that acceptance. If that task is then lost (its worker dies before completing it) and the
Update is never delivered again, the event is in PostgreSQL, chained and signed, but the case never took it: its
workflow goes on from the event before. The next step the workflow records finds that event at the seq it meant to
use (`stranger`) and, rather than adopt an action the case never took, first records `events_voided` after it, naming
the seqs it voids; the case's own event follows. Nothing is deleted: the trail still verifies and shows both.

An Update that *is* delivered again records the very same event (type, actor, stages and payload; only its time and
salt may differ): that is the same action, and the step answers with the stored event instead (`same_event`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from domain import events
from domain.audit import AuditEntry

VOID_REASON = "recorded in a workflow task that was lost: the case never took these events"


def void_payload(from_seq: int, to_seq: int) -> dict[str, Any]:
    """The payload of an `events_voided` event voiding `from_seq`..`to_seq` (both included)."""
    return {"from_seq": from_seq, "to_seq": to_seq, "reason": VOID_REASON}


def same_event(stored: AuditEntry, recording: AuditEntry) -> bool:
    """Whether `stored` is the event `recording` would be, but for its time, salt and place in the chain: the same
    type, actor, stages and payload (personal data included) — the same action recorded again."""
    return (
        stored.type == recording.type
        and stored.actor == recording.actor
        and stored.stage_before == recording.stage_before
        and stored.stage_after == recording.stage_after
        and stored.full_payload() == recording.full_payload()
    )


def answering(stored: Sequence[AuditEntry], recording: AuditEntry) -> AuditEntry | None:
    """Of the events stored from `recording`'s seq on, the one that is `recording` recorded before (`same_event`),
    or None. Either the first, at `recording`'s own seq, when no voiding is among them: a lost task that recorded
    several Updates left them in the order it took them, and the task run again takes them again one by one (the
    events after it are the next Updates', or strangers the next recording voids). Or the last, when nothing before
    it is left standing: right after a voiding of every event before it (from `recording`'s seq on). An event after
    strangers not voided was chained onto them by a run that took them, so it cannot be this run's: then everything
    there is voided."""
    if stored and same_event(stored[0], recording) and all(e.type != events.VOIDED for e in stored):
        return stored[0]
    if not stored or not same_event(stored[-1], recording):
        return None
    if len(stored) == 1:
        return stored[-1]
    voiding = stored[-2]
    if voiding.type == events.VOIDED and voided_seqs([voiding]) >= set(range(recording.seq, voiding.seq)):
        return stored[-1]
    return None


def voided_seqs(entries: Iterable[AuditEntry]) -> set[int]:
    """The seqs of the events an `events_voided` event of `entries` voids (only events before it)."""
    voided: set[int] = set()
    for entry in entries:
        if entry.type != events.VOIDED:
            continue
        first, last = _range(entry.payload)
        voided.update(range(first, min(last, entry.seq - 1) + 1))
    return voided


def _range(payload: dict[str, Any]) -> tuple[int, int]:
    first, last = payload.get("from_seq"), payload.get("to_seq")
    if not isinstance(first, int) or not isinstance(last, int) or isinstance(first, bool) or isinstance(last, bool):
        return 1, 0
    return first, last
