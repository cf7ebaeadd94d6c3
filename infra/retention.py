"""Retention: closed cases older than the retention period are archived — exported, verified, and their
personal contact data erased, their free texts kept for the workflow (`case_texts`) deleted — with the erasure
itself recorded as an audit event; and the access log's rows, and the consent tellings done (`consent_tellings`),
older than the period are deleted.

Order matters: the export is written (and its manifest checked) and the chain verified before anything is
erased, so what leaves the database first exists, whole, outside it. The erasure and its audit event are
one transaction; the append-only guard lets exactly this change through (see migration 0005).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import structlog
from sqlalchemy import delete, null, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.audit import REDACTED, REDACTION_EVENT, redact
from domain.errors import Unreplayable
from domain.model import Stage
from domain.rewind import rewind
from domain.signing import AuditKeys
from domain.stored_rows import audit_entry
from domain.system_events import signed_event_after
from infra.access_log import purge_access_log
from infra.audit_export import ExportFilter, export_audit
from infra.audit_trail import case_rows
from infra.case_rows import stored_case
from infra.chain_verdicts import case_verdict
from infra.consent_tellings import purge_done
from infra.db import session_factory
from infra.export_check import check_export
from infra.outbox import Status
from infra.stored_checkpoints import case_anchor
from infra.tables import audit_events, case_texts, cases, notifications

log = structlog.get_logger(__name__)


@dataclass
class ArchiveReport:
    archived: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    access_log_deleted: int = 0
    consent_tellings_deleted: int = 0


async def due_for_archiving(engine: AsyncEngine, closed_before: datetime) -> list[str]:
    """Closed cases last changed before `closed_before` that still hold personal data."""
    holding = select(audit_events.c.case_id).where(
        audit_events.c.personal_digest.is_not(None), audit_events.c.personal.is_not(None)
    )
    query = (
        select(cases.c.id)
        # the row's stage too: a record its owner altered (no stage in it) is still due, and refused by name
        .where(or_(cases.c.stage == Stage.CLOSED, cases.c.snapshot["stage"].astext == Stage.CLOSED),
               cases.c.updated_at < closed_before,
               cases.c.id.in_(holding))
        .order_by(cases.c.id)
    )
    async with engine.connect() as conn:
        return [str(case_id) for case_id in (await conn.scalars(query)).all()]


async def archive_case(engine: AsyncEngine, case_id: str, folder: Path, retention_years: int, now: datetime,
                       keys: AuditKeys) -> str:
    """Export, verify (signatures too) and redact one closed case; the path of its export; the erasure event is
    signed with `keys`. Raises ValueError to refuse (`Unreplayable` when the case's read-model row holds no case:
    `infra.case_rows.stored_case`)."""
    # The verdict every verifier gives (`infra.chain_verdicts.case_verdict`): damaged rows, a trail with no event and
    # unsigned events no checkpoint holds are no verified trail to erase from.
    rows = await case_rows(session_factory(engine), case_id)
    report = case_verdict(case_id, rows, keys.keyring, await case_anchor(engine, case_id, keys.keyring))
    if not report.valid:
        raise ValueError(f"its chain is broken at event {report.first_broken_seq}: {report.reason}")
    entries = [audit_entry(row) for row in rows]  # every row reads as an event: the chain holds
    chunks = export_audit(engine, "jsonl", ExportFilter(case=case_id), keys.keyring)
    content = b"".join([chunk async for chunk in chunks])
    path = folder / f"case-{case_id}.jsonl"
    await asyncio.to_thread(_write, path, content)
    exported = check_export(content)
    if not exported.ok or exported.count != len(entries):
        raise ValueError(f"its export does not check: {exported.why}")
    erased = [entry.seq for entry in entries if entry.personal is not None]
    async with engine.begin() as conn:
        snapshot = (await conn.execute(
            select(cases.c.snapshot).where(cases.c.id == case_id).with_for_update()
        )).scalar_one()
        state = stored_case(snapshot, case_id)
        last = (await conn.execute(
            select(audit_events.c.seq, audit_events.c.hash).where(audit_events.c.case_id == case_id)
            .order_by(audit_events.c.seq.desc()).limit(1)
        )).one()
        if (last.seq, last.hash) != (entries[-1].seq, entries[-1].hash):
            raise ValueError("its trail grew while it was being archived; archive it again")
        event = signed_event_after(
            case_id=case_id, last_seq=entries[-1].seq, last_hash=entries[-1].hash, type=REDACTION_EVENT, at=now,
            stage_before=state.stage, stage_after=state.stage,
            payload={"reason": "retention", "retention_years": retention_years, "events": erased,
                     "export_sha256": exported.manifest.get("sha256") if exported.manifest else None},
            signer=keys.signer,
        )
        await conn.execute(
            update(audit_events).where(audit_events.c.case_id == case_id, audit_events.c.personal_digest.is_not(None),
                                       audit_events.c.personal.is_not(None))
            .values(personal=null(), personal_salt=None)
        )
        await conn.execute(insert(audit_events).values(**event.model_dump()))
        # The texts kept while the workflow ran (`domain.texts`): the audit events hold what was recorded.
        await conn.execute(delete(case_texts).where(case_texts.c.case_id == case_id))
        after = rewind([redact(e) for e in entries] + [event], state.service_levels, now)
        assert after is not None
        await conn.execute(update(cases).where(cases.c.id == case_id).values(
            snapshot=after.model_dump(mode="json"), updated_at=now
        ))
        # Every address the contact had (the filing's, and any `update_contact` since), not only the last one.
        addresses = {str(state.request.contact.email)} | {
            str(entry.personal["contact"]["email"]) for entry in entries
            if entry.personal is not None and isinstance(entry.personal.get("contact"), dict)
            and "email" in entry.personal["contact"]
        }
        to_contact = (notifications.c.case_id == case_id, notifications.c.recipient_email.in_(sorted(addresses)))
        await conn.execute(  # mail to an erased address is never sent
            update(notifications).where(*to_contact, notifications.c.status.in_([Status.PENDING, Status.UNDELIVERABLE]))
            .values(status=Status.CANCELLED, last_error="the address was erased (retention)")
        )
        await conn.execute(
            update(notifications).where(*to_contact)
            .values(recipient_name=REDACTED, recipient_email=REDACTED, subject=REDACTED, body=REDACTED)
        )
    log.info("case archived", case_id=case_id, redacted_events=erased, export=str(path))
    return str(path)


def _write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


async def archive_closed_cases(
    engine: AsyncEngine, closed_before: datetime, folder: Path, retention_years: int, now: datetime, keys: AuditKeys
) -> ArchiveReport:
    report = ArchiveReport()
    for case_id in await due_for_archiving(engine, closed_before):
        try:
            await archive_case(engine, case_id, folder, retention_years, now, keys)
            report.archived.append(case_id)
        except (ValueError, IntegrityError, Unreplayable) as error:  # IntegrityError: another archiver got there first
            report.refused[case_id] = str(error)
            log.warning("case not archived", case_id=case_id, reason=str(error))
    report.access_log_deleted = await purge_access_log(engine, closed_before)
    report.consent_tellings_deleted = await purge_done(engine, closed_before)
    return report
