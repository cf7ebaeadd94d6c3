"""The notification outbox as PostgreSQL keeps it, for the mail relay and the operators.

Rows are written with the audit event that causes them (`activities.outbox.write_outbox`); from then on each
row has its own fate (`Status`). The relay claims a few due rows at a time with `FOR UPDATE SKIP LOCKED`, so any
number of senders in any number of workers never take the same message, and a message that waits (its next
try later) never stands in front of another.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.audit import REDACTED
from infra.smtp import MailFailure, Outgoing
from infra.tables import cases, notifications

FIRST_BACKOFF = timedelta(seconds=2)


class Status(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    UNDELIVERABLE = "undeliverable"  # refused for good; `alliance mail retry` after the cause is fixed
    CANCELLED = "cancelled"  # its address was erased: never sent


@dataclass(frozen=True)
class Claimed:
    """A due message, locked for the caller's transaction; `attempts` counts tries before this one."""

    outgoing: Outgoing
    template: str
    attempts: int


@dataclass(frozen=True)
class Fate:
    """What a failed try did to the message."""

    status: Status
    next_attempt_at: datetime | None


def backoff(attempts: int, longest: timedelta) -> timedelta:
    """The wait after the `attempts`-th failed try: 2 s, 4 s, 8 s … never more than `longest`."""
    wait: timedelta = FIRST_BACKOFF * 2 ** min(attempts - 1, 30)
    return min(wait, longest)


async def claim_due(conn: AsyncConnection, now: datetime, limit: int = 1) -> list[Claimed]:
    """Up to `limit` pending messages whose try is due, longest due first, locked until `conn`'s transaction ends
    (none: an empty list)."""
    rows = (await conn.execute(_DUE, {"now": now, "limit": limit})).mappings().all()
    return [Claimed(Outgoing(id=str(row["id"]), case_id=str(row["case_id"]), recipient_name=row["recipient_name"],
                             recipient_email=row["recipient_email"], subject=row["subject"], body=row["body"]),
                    row["template"], row["attempts"]) for row in rows]


_DUE = (
    select(notifications)
    .where(notifications.c.status == Status.PENDING, notifications.c.next_attempt_at <= bindparam("now"))
    .order_by(notifications.c.next_attempt_at, notifications.c.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
"""The relay's claim, built once: parameters `now` and `limit`."""


async def mark_sent(conn: AsyncConnection, sent: list[tuple[Claimed, datetime]]) -> None:
    """Mark the claimed messages sent, each at its own time, each with one more try counted (one round trip)."""
    if sent:
        await conn.execute(_SENT, [{"sent_id": m.outgoing.id, "sent_when": at} for m, at in sent])


_SENT = update(notifications).where(notifications.c.id == bindparam("sent_id")).values(
    status=Status.SENT, sent_at=bindparam("sent_when"), last_attempt_at=bindparam("sent_when"),
    attempts=notifications.c.attempts + 1,
)
"""One sent message's mark, built once: parameters `sent_id` and `sent_when` (executed for many at once)."""


async def mark_cancelled(conn: AsyncConnection, message: Claimed, now: datetime, why: str) -> None:
    await conn.execute(update(notifications).where(notifications.c.id == message.outgoing.id).values(
        status=Status.CANCELLED, last_attempt_at=now, last_error=why,
    ))


async def mark_failed(conn: AsyncConnection, message: Claimed, failure: MailFailure, now: datetime, *,
                      permanent_tries: int, longest: timedelta) -> Fate:
    """Count the failed try: a permanent failure `permanent_tries` times over makes the message undeliverable;
    otherwise it waits `backoff(...)` for its next try (transient failures without limit)."""
    attempts = message.attempts + 1
    if failure.permanent and attempts >= permanent_tries:
        fate = Fate(Status.UNDELIVERABLE, None)
    else:
        fate = Fate(Status.PENDING, now + backoff(attempts, longest))
    values: dict[str, object] = {"status": fate.status, "attempts": attempts, "last_attempt_at": now,
                                 "last_error": failure.answer}
    if fate.next_attempt_at is not None:
        values["next_attempt_at"] = fate.next_attempt_at
    await conn.execute(update(notifications).where(notifications.c.id == message.outgoing.id).values(**values))
    return fate


def is_erased(message: Claimed) -> bool:
    return message.outgoing.recipient_email == REDACTED


@dataclass(frozen=True)
class OutboxRow:
    """A message as operators see it (`GET /api/operations/mail`)."""

    id: str
    case_id: str
    seq: int
    template: str
    recipient_email: str
    status: str
    attempts: int
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str | None


async def messages(engine: AsyncEngine, status: Status | None, case_id: str | None = None,
                   limit: int = 100) -> list[OutboxRow]:
    """The newest `limit` messages (of one status, or of one case)."""
    query = select(notifications).order_by(notifications.c.created_at.desc(), notifications.c.id).limit(limit)
    if status is not None:
        query = query.where(notifications.c.status == status)
    if case_id is not None:
        query = query.where(notifications.c.case_id == case_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [OutboxRow(
        id=str(r["id"]), case_id=str(r["case_id"]), seq=r["seq"], template=r["template"],
        recipient_email=r["recipient_email"], status=r["status"], attempts=r["attempts"], created_at=r["created_at"],
        last_attempt_at=r["last_attempt_at"],
        next_attempt_at=r["next_attempt_at"] if r["status"] == Status.PENDING else None,
        sent_at=r["sent_at"], last_error=r["last_error"],
    ) for r in rows]


async def retry(engine: AsyncEngine, message_id: str, now: datetime) -> Status | None:
    """Send an undeliverable (or waiting) message again now, with a fresh count of tries; its status before
    (None: no such message). A sent or cancelled message stays as it is."""
    async with engine.begin() as conn:
        status = await conn.scalar(
            select(notifications.c.status).where(notifications.c.id == message_id).with_for_update()
        )
        if status in (Status.UNDELIVERABLE, Status.PENDING):
            await conn.execute(update(notifications).where(notifications.c.id == message_id).values(
                status=Status.PENDING, attempts=0, next_attempt_at=now, reported_at=None,
            ))
    return Status(status) if status is not None else None


async def contact_email(conn: AsyncConnection, case_id: str) -> str | None:
    """The applicant contact's address as the case's read model has it."""
    found = await conn.scalar(select(cases.c.snapshot["request"]["contact"]["email"].astext)
                              .where(cases.c.id == case_id))
    return str(found) if found is not None else None


async def readdress(conn: AsyncConnection, case_id: str, old_email: str, name: str, email: str, now: datetime) -> int:
    """The case's unsent messages to `old_email` go to `email` instead, now (the contact was corrected)."""
    result = await conn.execute(
        update(notifications)
        .where(notifications.c.case_id == case_id, notifications.c.recipient_email == old_email,
               notifications.c.status.in_([Status.PENDING, Status.UNDELIVERABLE]))
        .values(recipient_name=name, recipient_email=email, status=Status.PENDING, attempts=0, next_attempt_at=now,
                reported_at=None)
    )
    return result.rowcount or 0


@dataclass(frozen=True)
class OutboxTally:
    by_status: dict[str, int]
    oldest_pending_at: datetime | None


async def tally(engine: AsyncEngine) -> OutboxTally:
    """Messages per status, and when the oldest pending one was written (for `/metrics`)."""
    async with engine.connect() as conn:
        rows = (await conn.execute(
            select(notifications.c.status, func.count(), func.min(notifications.c.created_at))
            .group_by(notifications.c.status)
        )).all()
    counts = {str(status): 0 for status in Status} | {str(r[0]): int(r[1]) for r in rows}
    oldest = next((r[2] for r in rows if r[0] == Status.PENDING), None)
    return OutboxTally(counts, oldest)


@dataclass(frozen=True)
class Unreported:
    id: str
    case_id: str
    template: str
    last_error: str | None
    failed_at: datetime | None  # the failed try that made it undeliverable (a message may fail again later)


async def unreported(engine: AsyncEngine, limit: int = 50) -> list[Unreported]:
    """Undeliverable messages not yet on their case's audit trail (oldest first)."""
    async with engine.connect() as conn:
        rows = (await conn.execute(
            select(notifications.c.id, notifications.c.case_id, notifications.c.template, notifications.c.last_error,
                   notifications.c.last_attempt_at)
            .where(notifications.c.status == Status.UNDELIVERABLE, notifications.c.reported_at.is_(None))
            .order_by(notifications.c.last_attempt_at).limit(limit)
        )).all()
    return [Unreported(str(r[0]), str(r[1]), r[2], r[3], r[4]) for r in rows]


async def note_reported(conn: AsyncConnection, message_id: str, at: datetime) -> None:
    """The message's `mail_undeliverable` event is being written in `conn`'s transaction."""
    await conn.execute(update(notifications).where(notifications.c.id == message_id).values(reported_at=at))


async def mark_reported(engine: AsyncEngine, message_id: str, at: datetime) -> None:
    """Nothing more to tell of the message (it belongs to no case: e.g. the nightly alert to auditors)."""
    async with engine.begin() as conn:
        await note_reported(conn, message_id, at)
