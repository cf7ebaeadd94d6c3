"""What a service-level report reads (`domain.reports`): the audit events of a fiscal year's cases, and the open
cases past their due date."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, exists, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.model import JETRO, Stage
from domain.reports import ReportEvent
from infra.audit_trail import TAKEN
from infra.tables import audit_events, cases

inside = audit_events.alias("inside")
_FIRST_TIME: ColumnElement[datetime] = literal_column("'0001-01-01 00:00:00+00'::timestamptz")
"""The earliest time the driver reads (Python's datetime holds no year before 1); in SQL, since the driver sends
datetime.min as -infinity."""

WAITING_ON = func.jsonb_path_query_array(
    audit_events.c.payload, literal_column("""'$.waiting_on[*] ? (@.type() == "string")'::jsonpath"""))
"""The organisations an event's payload says the case waited on (a reminder's, an escalation's `waiting_on`), as a
JSON array of their names: only its texts, so an event its owner altered (a number, an object, no array) counts
for no one, or for the names it still holds, and never fails a figure (a dashboard, a report) reading every event."""

async def report_events(engine: AsyncEngine, start: datetime, end: datetime) -> list[ReportEvent]:
    """Every event up to `end` of the cases with an event in [start, end), in case and seq order; but an event whose
    time its owner moved before year 1 (no datetime holds it, and no recording step gives it), and but events the
    case never took and their voiding (`TAKEN`)."""
    active = exists().where(inside.c.case_id == audit_events.c.case_id, inside.c.at >= start, inside.c.at < end)
    query = (
        select(audit_events.c.case_id, audit_events.c.seq, audit_events.c.type,
               audit_events.c.actor["name"].astext.label("actor_name"),
               audit_events.c.actor["org"].astext.label("actor_org"), audit_events.c.at,
               audit_events.c.stage_before, audit_events.c.stage_after,
               WAITING_ON.label("waiting_on"), cases.c.outcome, cases.c.lead_office)
        .join(cases, cases.c.id == audit_events.c.case_id)
        .where(audit_events.c.at < end, audit_events.c.at >= _FIRST_TIME, active, TAKEN)
        .order_by(audit_events.c.case_id, audit_events.c.seq)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [ReportEvent(
        case_id=str(r.case_id), seq=r.seq, type=r.type, actor_name=r.actor_name or "", actor_org=r.actor_org or "",
        at=r.at, stage_before=r.stage_before, stage_after=r.stage_after,
        waiting_on=tuple(r.waiting_on or ()), outcome=r.outcome if r.stage_after == Stage.CLOSED else None,
        lead_office=r.lead_office,
    ) for r in rows]


async def open_past_due(engine: AsyncEngine) -> dict[str, int]:
    """Open cases past their due date now, by lead office (JETRO when none accepted them yet)."""
    office = func.coalesce(cases.c.lead_office, JETRO)
    query = select(office, func.count()).where(cases.c.stage != Stage.CLOSED, cases.c.overdue).group_by(office)
    async with engine.connect() as conn:
        return {str(o): int(n) for o, n in (await conn.execute(query)).all()}
