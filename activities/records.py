"""Record an accepted action: its audit event and the refreshed read model, in one transaction."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DataError
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.outbox import write_outbox
from contracts.activities import RECORD_EVENT, RecordEvent
from infra.tables import audit_events, cases, notifications

log = structlog.get_logger(__name__)


class CaseRecords:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @activity.defn(name=RECORD_EVENT)
    async def record_event(self, command: RecordEvent) -> int:
        """Idempotent: the event's key is (case, seq), and the read model only ever moves forward.

        The e-mails the event causes go into the outbox in the same transaction; returns how many of the
        event's e-mails are waiting to be sent (the workflow's courier then delivers them).
        """
        state = command.state
        snapshot = state.model_dump(mode="json")
        row = {
            "id": state.id,
            "reference": state.reference,
            "stage": state.stage,
            "outcome": state.outcome,
            "applicant_org": state.applicant_org,
            "company_name": state.request.company.name,
            "offices": [r.office for r in state.offices],
            "lead_office": state.lead_office,
            "assignee": state.assignee,
            "due_at": state.due_at,
            "overdue": state.overdue,
            "escalation_level": state.escalation_level,
            "paused": state.paused,
            "seq": state.seq,
            "snapshot": snapshot,
            "created_at": state.created_at,
            "updated_at": state.updated_at,
        }
        upsert = insert(cases).values(row)
        upsert = upsert.on_conflict_do_update(
            index_elements=[cases.c.id],
            set_={k: upsert.excluded[k] for k in row if k not in ("id", "created_at")},
            where=cases.c.seq < upsert.excluded.seq,
        )
        try:
            waiting = await self._write(command, upsert)
        except DataError as error:  # retrying cannot help: refuse the action instead of hanging the case
            raise ApplicationError(
                f"the database cannot store this event: {error.orig}", type="unstorable", non_retryable=True
            ) from error
        return int(waiting or 0)

    async def _write(self, command: RecordEvent, upsert: Any) -> int | None:
        entry, state = command.entry, command.state
        event = (
            insert(audit_events)
            .values(entry.model_dump())
            .on_conflict_do_nothing(index_elements=[audit_events.c.case_id, audit_events.c.seq])
            .returning(audit_events.c.seq)
            .cte("event")
        )
        model = upsert.returning(cases.c.id).cte("model")
        # One round trip writes both (PostgreSQL runs every data-modifying CTE); it answers how many of each.
        both = select(
            select(func.count()).select_from(event).scalar_subquery(),
            select(func.count()).select_from(model).scalar_subquery(),
        )
        async with self.engine.begin() as conn:
            inserted, _ = (await conn.execute(both)).one()
            waiting: int | None = 0
            if command.notice is not None:
                await write_outbox(conn, entry, state, command.notice)
                # Counted, not taken from the insert: a retry after a lost result must still report them.
                waiting = await conn.scalar(
                    select(func.count()).where(
                        notifications.c.case_id == state.id, notifications.c.seq == entry.seq,
                        notifications.c.sent_at.is_(None),
                    )
                )
        log.info(
            "case event recorded", case_id=entry.case_id, seq=entry.seq, type=entry.type, stage=entry.stage_after,
            duplicate=inserted == 0,
        )
        return waiting
