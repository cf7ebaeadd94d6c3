"""Service levels (docs/DESIGN.md §4): when a waiting case is reminded, escalated, or expires.

A clock starts when a case enters a stage that waits on people. At half the limit the assignee is
reminded; at the limit the case is escalated to level 1 (the office manager; JETRO for screening); at
1.5× the limit to level 2 (JETRO). An applicant who leaves questions unanswered past the limit lets the
case expire instead. Pausing stops the clock; resuming moves every pending moment by the business days
the case spent paused. Everything is computed from the clock's own fields, so replay gives the same timers.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from domain import events
from domain.calendar import add_business_days, business_days_between
from domain.model import FUND, JETRO, CaseState, Clock, Milestone, Moment, Outcome, Review, Stage

# Business days each waiting stage may take, by default (docs/DESIGN.md §4).
DEFAULT_SERVICE_LEVELS: dict[Stage, int] = {
    Stage.SCREENING: 5,
    Stage.OFFICE_REVIEW: 10,
    Stage.MATCHING: 15,
    Stage.INVESTMENT_DECISION: 20,
    Stage.AWAITING_APPLICANT_INFO: 20,
}


def start_clock(stage: Stage, at: datetime, levels: dict[Stage, int]) -> Clock | None:
    """The clock of a stage just entered, or None for a stage that waits on nobody."""
    limit = levels.get(stage)
    if limit is None or limit <= 0:
        return None
    half, limit_and_half = math.ceil(limit / 2), math.ceil(limit * 3 / 2)
    if stage == Stage.AWAITING_APPLICANT_INFO:
        plan = [(Milestone.REMINDER, half), (Milestone.EXPIRY, limit)]
    else:
        plan = [(Milestone.REMINDER, half), (Milestone.ESCALATION_1, limit), (Milestone.ESCALATION_2, limit_and_half)]
    moments = [Moment(milestone=m, at=add_business_days(at, days)) for m, days in plan]
    return Clock(stage=stage, limit_days=limit, started_at=at, moments=moments)


def next_moment(clock: Clock | None) -> Moment | None:
    """The next moment to wait for; None when nothing is pending or the clock is paused."""
    if clock is None or clock.paused_at is not None:
        return None
    return next((m for m in clock.moments if m.milestone not in clock.fired), None)


def mark_fired(clock: Clock, milestone: Milestone) -> Clock:
    return clock.model_copy(update={"fired": [*clock.fired, milestone]})


def pause_clock(clock: Clock | None, at: datetime) -> Clock | None:
    return clock.model_copy(update={"paused_at": at}) if clock is not None else None


def resume_clock(clock: Clock | None, at: datetime) -> Clock | None:
    """Move every pending moment by the business days spent paused."""
    if clock is None or clock.paused_at is None:
        return clock
    shift = business_days_between(clock.paused_at, at)
    moments = [
        m if m.milestone in clock.fired else m.model_copy(update={"at": add_business_days(m.at, shift)})
        for m in clock.moments
    ]
    return clock.model_copy(update={"moments": moments, "paused_at": None})


def escalation_target(stage: Stage, level: int) -> str:
    """Who an escalation goes to: the office manager (JETRO for screening), then JETRO."""
    if level >= 2 or stage == Stage.SCREENING:
        return JETRO
    return "office_manager"


def with_clock(state: CaseState, clock: Clock | None) -> CaseState:
    """The case with a (new or moved) clock; its due date follows the clock."""
    return state.model_copy(update={"clock": clock, "due_at": clock.due_at if clock is not None else None})


def restart_clock(state: CaseState, at: datetime) -> CaseState:
    """A case that entered a new stage: a fresh clock, nothing overdue, no escalation."""
    fresh = start_clock(state.stage, at, state.service_levels) if state.stage != Stage.CLOSED else None
    return with_clock(state, fresh).model_copy(update={"overdue": False, "escalation_level": 0})


def waiting_on(state: CaseState) -> list[str]:
    """Who the case is waiting on now (organisation codes, or `applicant`)."""
    match state.stage:
        case Stage.SCREENING:
            return [JETRO]
        case Stage.AWAITING_APPLICANT_INFO:
            return ["applicant"]
        case Stage.OFFICE_REVIEW:
            return [str(r.office) for r in state.offices if r.review == Review.PENDING]
        case Stage.MATCHING | Stage.FUND_CONSIDERATION:
            return [str(state.lead_office)] if state.lead_office else []
        case Stage.INVESTMENT_DECISION:
            return [FUND]
        case _:
            return []


def fire(state: CaseState, moment: Moment, at: datetime) -> tuple[CaseState, str, dict[str, Any]]:
    """What a moment that has come does to the case, and the audit event (type, payload) it records."""
    assert state.clock is not None
    clock = mark_fired(state.clock, moment.milestone)
    due = state.clock.due_at.isoformat()
    base = {"stage": str(state.stage), "due_at": due, "waiting_on": waiting_on(state)}
    updated = state.model_copy(update={"clock": clock, "updated_at": at})
    match moment.milestone:
        case Milestone.REMINDER:
            return updated, events.REMINDER, base
        case Milestone.ESCALATION_1 | Milestone.ESCALATION_2:
            level = 1 if moment.milestone == Milestone.ESCALATION_1 else 2
            escalated = updated.model_copy(update={"overdue": True, "escalation_level": level})
            return escalated, events.ESCALATION, {**base, "level": level, "to": escalation_target(state.stage, level)}
        case Milestone.EXPIRY:
            expired = updated.model_copy(
                update={"stage": Stage.CLOSED, "outcome": Outcome.EXPIRED, "paused": False, "clock": None,
                        "due_at": None, "overdue": False}
            )
            return expired, events.EXPIRED, base
