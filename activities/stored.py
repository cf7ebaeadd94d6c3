"""What a step reads back of the trail it writes — an event a try before it may have stored — read as every other
reader reads a stored row (`domain.stored_rows`), so that a row the table's owner damaged is a refusal for good
(`stored_event_invalid`, an incident naming the case, the seq and what is wrong), never a retried crash."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from contracts.errors import STORED_EVENT_INVALID
from domain.audit import AuditEntry
from domain.stored_rows import DamagedRow, Row, audit_entry


def refused_stored_event(case_id: str, seq: int | None, problem: str) -> ApplicationError:
    """The non-retryable `stored_event_invalid` for the row stored as event `seq` of the case (None: its seq is
    NULL) that is not the step's own: `problem` says why."""
    event = "an event whose seq is NULL" if seq is None else f"event {seq}"
    return ApplicationError(
        f"{event} of case {case_id} is already stored, but {problem}; remove that row, then retry the case's "
        "incident", {"case_id": case_id, "seq": seq, "problem": problem},
        type=STORED_EVENT_INVALID, non_retryable=True,
    )


def stored_entry(case_id: str, row: Row) -> AuditEntry:
    """The event a stored row of the case holds (`domain.stored_rows.audit_entry`); `refused_stored_event` when the
    row holds none (a column NULL, JSON of another type than an event's, a time no recording step gives)."""
    try:
        return audit_entry(row)
    except DamagedRow as damaged:
        raise refused_stored_event(case_id, damaged.seq, damaged.reason) from None
