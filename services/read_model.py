"""Read-model queries the faces show: the dashboard's figures, case counts for `/metrics`, a person's language.

Each reads PostgreSQL and changes nothing. Whatever a viewer is shown is counted over the cases that viewer may
see (`infra.visibility`, the SQL form of `domain.rules.can_see`), so no figure counts a case its viewer could
not open; `/metrics` counts every case, and shows counts only.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from domain import events
from domain.model import Actor, Stage
from infra.audit_trail import TAKEN
from infra.reports import WAITING_ON
from infra.tables import audit_events, cases, users
from infra.visibility import visible_to
from services.context import Services

DAY = 86_400.0
ESCALATION_LEVELS = (1, 2)


@dataclass(frozen=True)
class Figures:
    per_stage: list[tuple[str, int]]
    """(stage, cases now in it), in lifecycle order, stages without cases left out."""
    median_days: list[tuple[str, float]]
    """(stage, median days a case spent in it), over stays that ended."""
    breaches: list[tuple[str, int]]
    """(who the case waited on, escalations to level 1): each one a missed deadline."""


def _in_order(rows: dict[str, float]) -> list[tuple[str, float]]:
    return [(str(stage), rows[stage]) for stage in Stage if stage in rows]


async def dashboard_figures(services: Services, viewer: Actor) -> Figures:
    """The dashboard's numbers, counted by PostgreSQL over the cases the viewer may see."""
    visible = select(cases.c.id).where(visible_to(viewer))
    per_stage = select(cases.c.stage, func.count()).where(visible_to(viewer)).group_by(cases.c.stage)

    moves = (
        select(audit_events.c.case_id, audit_events.c.seq, audit_events.c.at,
               audit_events.c.stage_after.label("stage"))
        .where(audit_events.c.stage_before.is_distinct_from(audit_events.c.stage_after),
               audit_events.c.case_id.in_(visible), TAKEN)
        .subquery()
    )
    stays = select(
        moves.c.stage,
        moves.c.at.label("entered"),
        func.lead(moves.c.at).over(partition_by=moves.c.case_id, order_by=moves.c.seq).label("left"),
    ).subquery()
    medians = (
        select(stays.c.stage,
               func.percentile_cont(0.5).within_group(func.extract("epoch", stays.c.left - stays.c.entered)))
        .where(stays.c.left.is_not(None), stays.c.stage != Stage.CLOSED)
        .group_by(stays.c.stage)
    )

    waited_on = (
        select(func.jsonb_array_elements_text(WAITING_ON).label("org"))
        .where(audit_events.c.type == events.ESCALATION, audit_events.c.payload["level"].astext == "1",
               audit_events.c.case_id.in_(visible))
        .subquery()
    )
    breaches = select(waited_on.c.org, func.count()).group_by(waited_on.c.org).order_by(func.count().desc(),
                                                                                     waited_on.c.org)
    async with services.sessions() as session:
        stage_counts = {row[0]: float(row[1]) for row in (await session.execute(per_stage)).all()}
        median_rows = {row[0]: float(row[1]) / DAY for row in (await session.execute(medians)).all()}
        breach_rows = [(str(row[0]), int(row[1])) for row in (await session.execute(breaches)).all()]
    return Figures(
        per_stage=[(stage, int(count)) for stage, count in _in_order(stage_counts)],
        median_days=_in_order(median_rows),
        breaches=breach_rows,
    )


@dataclass(frozen=True)
class CaseTally:
    by_stage: dict[str, int]
    overdue: int
    escalated: dict[int, int]


async def tally_cases(services: Services) -> CaseTally:
    """Every case gauge from one grouped query; overdue and escalated count open cases only."""
    open_case = cases.c.stage != Stage.CLOSED.value
    query = select(
        cases.c.stage,
        func.count(),
        func.count().filter(cases.c.overdue & open_case),
        *(func.count().filter((cases.c.escalation_level == level) & open_case) for level in ESCALATION_LEVELS),
    ).group_by(cases.c.stage)
    async with services.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    by_stage = {stage.value: 0 for stage in Stage} | {row[0]: int(row[1]) for row in rows}
    escalated = {level: sum(int(row[3 + i]) for row in rows) for i, level in enumerate(ESCALATION_LEVELS)}
    return CaseTally(by_stage, sum(int(row[2]) for row in rows), escalated)


async def user_language(services: Services, user_id: str) -> str | None:
    """The language a person chose for what we send them (`en`, `ja`), or None when they chose none."""
    async with services.sessions() as session:
        language = await session.scalar(select(users.c.language).where(users.c.id == user_id))
    return str(language) if language else None
