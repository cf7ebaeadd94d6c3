"""Turn an event's notice into outbox rows: one per person, in their language, keyed deterministically."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.audit import AuditEntry
from domain.model import CaseState
from domain.notifications import APPLICANT_CONTACT, Audience, Notice, render
from infra.tables import delegations, notifications, users

OUTBOX_NAMESPACE = uuid.UUID("0d6f1f6e-2b7b-4f0e-9c39-3f8b7a4e5d21")


def _audience_statement() -> Any:
    """Everyone of a role and organisation, and whoever stands in for one of them at the time of the event
    (issue 21), with an address and not revoked. Built once (issue 15); parameters role, org and at."""
    members = select(users.c.id).where(users.c.role == bindparam("role"), users.c.org == bindparam("org"),
                                       users.c.revoked_at.is_(None))
    stand_ins = select(delegations.c.delegate_id).where(
        delegations.c.delegator_id.in_(members), delegations.c.starts_at <= bindparam("at"),
        delegations.c.ends_at > bindparam("at"),
    )
    return select(users.c.name, users.c.email, users.c.language).where(
        or_(users.c.id.in_(members), users.c.id.in_(stand_ins)),
        users.c.email.is_not(None), users.c.revoked_at.is_(None),
    ).order_by(users.c.email)


_AUDIENCE = _audience_statement()
_OUTBOX_ROW = insert(notifications).on_conflict_do_nothing()


@dataclass(frozen=True)
class Recipient:
    name: str
    email: str
    language: str


async def recipients(conn: AsyncConnection, state: CaseState, audience: Audience, at: datetime) -> list[Recipient]:
    """The people an audience names, and those standing in for them at `at` (the event's time)."""
    if audience.role == APPLICANT_CONTACT:
        contact = state.request.contact
        return [Recipient(contact.name, str(contact.email), contact.language)]
    rows = await conn.execute(_AUDIENCE, {"role": audience.role, "org": audience.org, "at": at})
    return [Recipient(r.name, r.email, r.language) for r in rows]


async def outbox_rows(conn: AsyncConnection, entry: AuditEntry, state: CaseState, notice: Notice
                      ) -> list[dict[str, Any]]:
    """The outbox rows an event's notice makes: one per person (by address, case-insensitively), in their
    language, keyed deterministically by (case, seq, address) so a retried step writes none twice."""
    people: dict[str, Recipient] = {}
    for audience in notice.audiences:
        for person in await recipients(conn, state, audience, entry.at):
            people.setdefault(person.email.lower(), person)
    rows = []
    for email, person in people.items():
        subject, body = render(notice.template, person.language, state, entry.payload)
        rows.append({
            "id": str(uuid.uuid5(OUTBOX_NAMESPACE, f"{entry.case_id}:{entry.seq}:{email}")),
            "case_id": entry.case_id, "seq": entry.seq, "template": notice.template,
            "recipient_name": person.name, "recipient_email": person.email, "language": person.language,
            "subject": subject, "body": body, "created_at": entry.at,
        })
    return rows


async def write_outbox(conn: AsyncConnection, entry: AuditEntry, state: CaseState, notice: Notice) -> None:
    """Write the notice's outbox rows (`outbox_rows`) in the caller's transaction."""
    if rows := await outbox_rows(conn, entry, state, notice):
        await conn.execute(_OUTBOX_ROW, rows)
