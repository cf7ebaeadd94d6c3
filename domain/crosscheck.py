"""Does a case's audit trail agree with its workflow history? Every accepted Update is one event, and back.

Pure: the workflow side arrives as the accepted Updates in the order Temporal accepted them (all runs), the
audit side as the stored entries. The service-level timers' events (`reminder`, `escalation`, `expired`) are
not Updates and take no part. Which Updates must have left an event:

- one that completed successfully: exactly one event, the one whose seq its result reports (both handlers
  answer with the case as it stands right after recording, still under the case's lock);
- one that failed after acceptance (the handler decided again under the lock and refused, or the database
  refused the event): none — it recorded nothing;
- one still running: its event may or may not be written yet, so either is fine;
- a `file` Update after the first successful (or running) one: none — it answers with the case as filed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from domain import events
from domain.audit import AuditEntry
from domain.voiding import voided_seqs

FILE_UPDATE = events.FILE
FILED_EVENT = events.FILED
SYSTEM_EVENTS = events.SYSTEM_EVENTS

Side = Literal["audit", "workflow"]


class UpdateOutcome(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    RUNNING = "running"


@dataclass(frozen=True)
class AcceptedUpdate:
    """One Update the workflow accepted; `seq` is the case's seq in its result (None when not known)."""

    name: str
    update_id: str
    outcome: UpdateOutcome
    seq: int | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class Difference:
    """One place where the two sides disagree.

    `side` says which side has something the other lacks: `audit` an event without an Update, `workflow` an
    Update without its event. `seq` is the audit event's seq, or the seq the Update reported; `type` the
    event's type, or the one the Update should have recorded (`filed` for `file`); `position` is the Update's
    place (from 1) among all accepted Updates of the case.
    """

    side: Side
    seq: int | None
    type: str
    reason: str
    position: int | None = None
    update: str | None = None
    update_id: str | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class Crosscheck:
    """All accepted Updates and all Update events counted, and what did not pair up."""

    updates: int
    events: int
    differences: tuple[Difference, ...] = field(default_factory=tuple)

    @property
    def consistent(self) -> bool:
        return not self.differences


def event_type_of(update_name: str) -> str:
    """The event an Update records: `file` records `filed`, an action the event named after it."""
    return FILED_EVENT if update_name == FILE_UPDATE else update_name


def from_updates(entries: Sequence[AuditEntry]) -> list[AuditEntry]:
    """The audit events that Updates record (everything but the service-level timers' events and the other system
    events, and but events voided as recorded in a lost workflow task: `domain.voiding`)."""
    voided = voided_seqs(entries)
    return [e for e in entries if e.type not in SYSTEM_EVENTS and e.seq not in voided]


@dataclass
class _Expected:
    position: int
    update: AcceptedUpdate
    type: str
    matched: int | None = None  # seq of the event it was paired with


def _expected(updates: Sequence[AcceptedUpdate]) -> list[_Expected]:
    """The Updates that must (or, while running, may) have left an event, with their place among all."""
    expected: list[_Expected] = []
    filed = False
    for position, update in enumerate(updates, start=1):
        if update.outcome == UpdateOutcome.FAILED:
            continue
        if update.name == FILE_UPDATE:
            if filed:
                continue  # a repeated filing answers with the case as it stands and records nothing
            filed = True
        expected.append(_Expected(position, update, event_type_of(update.name)))
    return expected


def _describe(update: AcceptedUpdate) -> str:
    return f"Update {update.name} (id {update.update_id})"


def compare(updates: Sequence[AcceptedUpdate], entries: Sequence[AuditEntry]) -> Crosscheck:
    """Pair each accepted Update with its event and list whatever is left over on either side."""
    events = from_updates(entries)
    by_seq = {e.seq: e for e in entries}
    claimed: set[int] = set()
    differences: list[Difference] = []
    expected = _expected(updates)

    def missing(item: _Expected, why: str) -> None:
        u = item.update
        differences.append(Difference("workflow", u.seq, item.type, why, item.position, u.name, u.update_id, u.run_id))

    # Pinned: a completed Update names its event's seq in its result.
    for item in expected:
        seq = item.update.seq
        if item.update.outcome != UpdateOutcome.COMPLETED or seq is None:
            continue
        event = by_seq.get(seq)
        if event is not None and event.type == item.type and seq not in claimed:
            claimed.add(seq)
            item.matched = seq
        elif event is None:
            missing(item, f"{_describe(item.update)} accepted and completed as event {seq}, "
                          f"but there is no audit event {seq}")
        elif seq in claimed:
            missing(item, f"{_describe(item.update)} accepted and completed as event {seq}, "
                          f"but another Update already accounts for audit event {seq}")
        else:
            missing(item, f"{_describe(item.update)} accepted and completed as event {seq}, "
                          f"but audit event {seq} is {event.type}, not {item.type}")

    # Unpinned (running, or a result without a seq): in order, between the pinned neighbours.
    for index, item in enumerate(expected):
        pinned = item.update.outcome == UpdateOutcome.COMPLETED and item.update.seq is not None
        if item.matched is not None or pinned:
            continue
        low = max((e.matched for e in expected[:index] if e.matched is not None), default=0)
        high = min((e.update.seq for e in expected[index + 1:] if e.update.seq is not None), default=None)
        event = next((e for e in events if low < e.seq and (high is None or e.seq < high)
                      and e.type == item.type and e.seq not in claimed), None)
        if event is not None:
            claimed.add(event.seq)
            item.matched = event.seq
        elif item.update.outcome == UpdateOutcome.COMPLETED:
            missing(item, f"{_describe(item.update)} accepted and completed, but no {item.type} audit event "
                          f"after event {low} accounts for it")

    # An Idempotency-Key names one Update id; Temporal de-duplicates ids within a run only, so the same id
    # completed in two runs is one request applied twice.
    completed: dict[str, list[AcceptedUpdate]] = {}
    for update in updates:
        if update.outcome == UpdateOutcome.COMPLETED and update.name != FILE_UPDATE:
            completed.setdefault(update.update_id, []).append(update)
    for update_id, runs in completed.items():
        if len({u.run_id for u in runs}) > 1:
            first = runs[0]
            differences.append(Difference(
                "workflow", runs[-1].seq, event_type_of(first.name),
                f"{_describe(first)} was applied {len(runs)} times, once in each of runs "
                f"{', '.join(str(u.run_id) for u in runs)}", None, first.name, update_id, runs[-1].run_id,
            ))

    for event in events:
        if event.seq not in claimed:
            differences.append(Difference("audit", event.seq, event.type,
                                          f"audit event {event.seq} ({event.type}) has no accepted Update"))

    last = max((d.seq for d in differences if d.seq is not None), default=0) + 1
    differences.sort(key=lambda d: (d.seq if d.seq is not None else last, d.side, d.position or 0))
    return Crosscheck(updates=len(updates), events=len(events), differences=tuple(differences))
