"""Service-level figures of a small fiscal year, checked against figures worked out by hand (issue 21).

FY2026 runs from 1 April 2026 to 31 March 2027 (Tokyo). The business days below exclude weekends and the Golden
Week holidays of 2026: 29 April, 4, 5 and 6 May (6 May replaces Constitution Day, a Sunday).
"""

from __future__ import annotations

from datetime import datetime

from domain.calendar import TOKYO
from domain.reports import BreachFigures, OutcomeFigures, ReportEvent, StageFigures, build_report, csv_rows

KENJI, OFFICER_A, OFFICER_B, ANNA = ("Kenji", "jetro"), ("Officer A", "sbic"), ("Officer B", "sbic"), ("Anna", "acme")
SYSTEM = ("system", "system")


def at(month: int, day: int, year: int = 2026) -> datetime:
    return datetime(year, month, day, 10, tzinfo=TOKYO)


def event(case: str, seq: int, kind: str, who: tuple[str, str], when: datetime, before: str | None, after: str,
          **more: object) -> ReportEvent:
    return ReportEvent(case_id=case, seq=seq, type=kind, actor_name=who[0], actor_org=who[1], at=when,
                       stage_before=before, stage_after=after, lead_office="sbic", **more)  # type: ignore[arg-type]


EVENTS = [
    # Case A: screening Mon 6 Apr → Wed 8 Apr (2 days), review → Mon 13 Apr (3: 9, 10, 13), matching → Mon 11 May
    # (16: 14–17, 20–24, 27, 28, 30 April, 1, 7, 8, 11 May), reminded in April, escalated in May.
    event("a", 1, "filed", ANNA, at(4, 6), None, "screening"),
    event("a", 2, "relay", KENJI, at(4, 8), "screening", "office_review"),
    event("a", 3, "accept_case", OFFICER_A, at(4, 13), "office_review", "matching"),
    event("a", 4, "reminder", SYSTEM, at(4, 20), "matching", "matching", waiting_on=("sbic",)),
    event("a", 5, "escalation", SYSTEM, at(5, 8), "matching", "matching", waiting_on=("sbic",)),
    event("a", 6, "close_no_match", OFFICER_A, at(5, 11), "matching", "closed", outcome="no_match"),
    # Case B: filed in FY2025 (Mon 30 March); screening → Fri 3 April (4: 31 March, 1, 2, 3 April), review → Mon 6
    # April (1), withdrawn Tue 7 April (1, ended by the applicant).
    event("b", 1, "filed", ANNA, at(3, 30), None, "screening"),
    event("b", 2, "relay", KENJI, at(4, 3), "screening", "office_review"),
    event("b", 3, "accept_case", OFFICER_B, at(4, 6), "office_review", "matching"),
    event("b", 4, "withdraw", ANNA, at(4, 7), "matching", "closed", outcome="withdrawn"),
    # Case C: relayed in FY2027: not in FY2026's figures.
    event("c", 1, "filed", ANNA, at(3, 29, 2027), None, "screening"),
    event("c", 2, "relay", KENJI, at(4, 2, 2027), "screening", "office_review"),
]


def test_the_figures_of_a_small_year_are_those_worked_out_by_hand() -> None:
    report = build_report(2026, None, EVENTS, {"sbic": 2})
    assert report.stages == [
        StageFigures(office="acme", officer="Anna", stage="matching", month="2026-04", handled=1, median_days=1,
                     p90_days=1),
        StageFigures(office="jetro", officer="Kenji", stage="screening", month="2026-04", handled=2, median_days=3,
                     p90_days=4),
        StageFigures(office="sbic", officer="Officer A", stage="matching", month="2026-05", handled=1,
                     median_days=16, p90_days=16),
        StageFigures(office="sbic", officer="Officer A", stage="office_review", month="2026-04", handled=1,
                     median_days=3, p90_days=3),
        StageFigures(office="sbic", officer="Officer B", stage="office_review", month="2026-04", handled=1,
                     median_days=1, p90_days=1),
    ]
    assert report.breaches == [
        BreachFigures(office="sbic", stage="matching", month="2026-04", reminders=1, escalations=0),
        BreachFigures(office="sbic", stage="matching", month="2026-05", reminders=0, escalations=1),
    ]
    assert report.outcomes == [OutcomeFigures(office="sbic", month="2026-04", outcome="withdrawn", cases=1),
                               OutcomeFigures(office="sbic", month="2026-05", outcome="no_match", cases=1)]


def test_an_office_sees_its_own_figures_only_and_the_csv_has_them_all() -> None:
    report = build_report(2026, "sbic", EVENTS, {"sbic": 2, "jetro": 1})
    assert {s.office for s in report.stages} == {"sbic"} and report.open_past_due == {"sbic": 2}
    rows = csv_rows(report)
    assert [r[0] for r in rows] == ["stage"] * 3 + ["breaches"] * 2 + ["outcome"] * 2 + ["open_past_due"]
    assert rows[0][:8] == ("stage", "sbic", "Officer A", "matching", "2026-05", 1, 16, 16)


def test_a_year_without_events_is_empty() -> None:
    report = build_report(2030, None, EVENTS, {})
    assert (report.stages, report.breaches, report.outcomes) == ([], [], [])
