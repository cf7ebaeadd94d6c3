"""Service-level reports by Japanese fiscal year (issue 21): April to March, computed from the audit trail.

Figures, per organisation (an office, JETRO, the Fund), officer, stage and month (Tokyo time):

* `handled` — stage visits that ended that month: a case entered the stage and an action took it out. The
  organisation and officer are those of the person whose action ended the visit (a timer's expiry is `system`).
* `median_days`, `p90_days` — business days (Japanese calendar, `domain.calendar`) those visits took; the 90th
  percentile is the nearest rank (the smallest value at least 90 % of the visits do not exceed).
* `reminders`, `escalations` — reminders and escalations (the breaches of the service level) recorded that month,
  counted for each organisation the case waited on (the event's `waiting_on`).
* `outcomes` — cases closed that month, by outcome, under their lead office (JETRO when none accepted them).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from pydantic import Field

from domain.base_models import Frozen
from domain.calendar import TOKYO, business_days_between
from domain.model import JETRO

REMINDER, ESCALATION = "reminder", "escalation"


def fiscal_year_bounds(year: int) -> tuple[datetime, datetime]:
    """FY `year`: from 1 April of `year` to (not including) 1 April of the next, Tokyo time."""
    return datetime(year, 4, 1, tzinfo=TOKYO), datetime(year + 1, 4, 1, tzinfo=TOKYO)


def month_of(at: datetime) -> str:
    return at.astimezone(TOKYO).strftime("%Y-%m")


def nearest_rank(values: list[int], share: float) -> int:
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


@dataclass(frozen=True)
class ReportEvent:
    """What the report reads of one audit event (and of its case's lead office)."""

    case_id: str
    seq: int
    type: str
    actor_name: str
    actor_org: str
    at: datetime
    stage_before: str | None
    stage_after: str
    waiting_on: tuple[str, ...] = ()
    outcome: str | None = None
    lead_office: str | None = None


class StageFigures(Frozen):
    office: str
    officer: str
    stage: str
    month: str
    handled: int
    median_days: float
    p90_days: int


class BreachFigures(Frozen):
    office: str
    stage: str
    month: str
    reminders: int
    escalations: int


class OutcomeFigures(Frozen):
    office: str
    month: str
    outcome: str
    cases: int


class ServiceLevelReport(Frozen):
    fiscal_year: int
    office: str | None
    stages: list[StageFigures]
    breaches: list[BreachFigures]
    outcomes: list[OutcomeFigures]
    open_past_due: dict[str, int] = Field(default_factory=dict, description="Open cases past their due date now, "
                                          "by lead office (JETRO when none)")


def build_report(year: int, office: str | None, events: list[ReportEvent],
                 open_past_due: dict[str, int]) -> ServiceLevelReport:
    """The figures of FY `year` from the events of its cases (every event up to its end, in case and seq order),
    for one organisation or (None) all."""
    start, end = fiscal_year_bounds(year)
    durations: dict[tuple[str, str, str, str], list[int]] = defaultdict(list)
    breaches: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    outcomes: dict[tuple[str, str, str], int] = defaultdict(int)
    entered: dict[tuple[str, str], datetime] = {}
    for event in events:
        if event.stage_before != event.stage_after:
            if event.stage_before is not None and (event.case_id, event.stage_before) in entered:
                began = entered.pop((event.case_id, event.stage_before))
                if start <= event.at < end:
                    key = (event.actor_org, event.actor_name, event.stage_before, month_of(event.at))
                    durations[key].append(business_days_between(began, event.at))
            entered[(event.case_id, event.stage_after)] = event.at
        if not start <= event.at < end:
            continue
        if event.type in (REMINDER, ESCALATION):
            for org in event.waiting_on:
                breaches[(org, event.stage_after, month_of(event.at))][event.type == ESCALATION] += 1
        if event.outcome is not None and event.stage_before != event.stage_after:
            outcomes[(event.lead_office or JETRO, month_of(event.at), event.outcome)] += 1

    def kept(org: str) -> bool:
        return office is None or org == office

    return ServiceLevelReport(
        fiscal_year=year, office=office,
        stages=[StageFigures(office=o, officer=p, stage=s, month=m, handled=len(days),
                             median_days=statistics.median(days), p90_days=nearest_rank(days, 0.9))
                for (o, p, s, m), days in sorted(durations.items()) if kept(o)],
        breaches=[BreachFigures(office=o, stage=s, month=m, reminders=n[0], escalations=n[1])
                  for (o, s, m), n in sorted(breaches.items()) if kept(o)],
        outcomes=[OutcomeFigures(office=o, month=m, outcome=x, cases=n)
                  for (o, m, x), n in sorted(outcomes.items()) if kept(o)],
        open_past_due={o: n for o, n in sorted(open_past_due.items()) if kept(o)},
    )


CSV_COLUMNS = ("figure", "office", "officer", "stage", "month", "handled", "median_business_days",
               "p90_business_days", "reminders", "escalations", "outcome", "cases")


def csv_rows(report: ServiceLevelReport) -> list[tuple[object, ...]]:
    """The report as one table (a `figure` column says which kind each row is), in `CSV_COLUMNS` order."""
    rows: list[tuple[object, ...]] = []
    rows += [("stage", s.office, s.officer, s.stage, s.month, s.handled, s.median_days, s.p90_days, "", "", "", "")
             for s in report.stages]
    rows += [("breaches", b.office, "", b.stage, b.month, "", "", "", b.reminders, b.escalations, "", "")
             for b in report.breaches]
    rows += [("outcome", o.office, "", "", o.month, "", "", "", "", "", o.outcome, o.cases) for o in report.outcomes]
    rows += [("open_past_due", org, "", "", "", "", "", "", "", "", "", n) for org, n in report.open_past_due.items()]
    return rows
