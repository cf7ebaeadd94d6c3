"""`alliance seed-cases` (issue 21): a year of generated, back-dated cases whose figures the report shows, whose
chains verify, marked as generated, still-open ones workable; refused a second time and in production."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from api.reports import current_fiscal_year
from app.case_seeding import SeedRefused, seed_cases
from domain.generated_cases import GENERATED_ORG_PREFIX, GeneratedCase
from domain.model import JETRO, Stage
from domain.reports import fiscal_year_bounds
from infra.settings import Settings
from infra.tables import cases
from tests.helpers.cli import alliance
from tests.helpers.people import COORDINATOR
from tests.helpers.support import PEPPER
from tests.helpers.team import Team, team_desk
from workers.case_worker import build_worker

REPORT = "/api/reports/service-levels"


@pytest.fixture
async def quiet_team(dev_server: WorkflowEnvironment, settings: Settings,
                     migrated_database: str) -> AsyncIterator[Team]:
    """The app on a database of its own, on the real-time dev server, with no worker yet: the seeded cases' live
    timers cannot add to the history while the test reads it."""
    async with team_desk(dev_server.client, settings, migrated_database, worker=False) as team:
        yield team


@pytest.mark.long
async def test_a_seeded_year_is_in_the_report_verifies_and_stays_workable(
        quiet_team: Team, dev_server: WorkflowEnvironment, settings: Settings) -> None:
    team, kept = quiet_team, list[GeneratedCase]()
    assert team.engine is not None
    seeded = await seed_cases(settings, team.engine, dev_server.client, count=30, months=12, seed=7,
                              now=datetime.now(UTC), kept=kept)
    assert seeded.cases == len(kept) == 30 and seeded.events == sum(len(c.entries) for c in kept)

    async with team.engine.connect() as conn:
        rows = (await conn.execute(select(cases.c.reference, cases.c.applicant_org))).all()
    assert len(rows) == 30 and all(r.reference.startswith("GEN-") and r.applicant_org.startswith(GENERATED_ORG_PREFIX)
                                   for r in rows)

    year = current_fiscal_year()
    start, end = fiscal_year_bounds(year)
    inside = [e for case in kept for e in case.entries if start <= e.at < end]
    handled = Counter((e.actor["org"], e.stage_before) for e in inside
                      if e.stage_before is not None and e.stage_before != e.stage_after)
    breaches = Counter((org, e.type) for e in inside if e.type in ("reminder", "escalation")
                       for org in e.payload["waiting_on"])
    outcome_of = {c.state.id: c.state for c in kept if c.state is not None}
    outcomes = Counter((outcome_of[e.case_id].lead_office or JETRO, outcome_of[e.case_id].outcome) for e in inside
                       if e.stage_after == Stage.CLOSED and e.stage_before != Stage.CLOSED)
    past_due = Counter(s.lead_office or JETRO for s in outcome_of.values() if s.stage != Stage.CLOSED and s.overdue)
    assert handled and breaches and outcomes  # a year of 30 cases has all of them

    report = (await team.http.get(f"{REPORT}?fiscal_year={year}", headers=team.headers(COORDINATOR))).json()
    shown_handled: Counter[tuple[str, str]] = Counter()
    for row in report["stages"]:
        shown_handled[(row["office"], row["stage"])] += row["handled"]
    shown_breaches: Counter[tuple[str, str]] = Counter()
    for row in report["breaches"]:
        shown_breaches[(row["office"], "reminder")] += row["reminders"]
        shown_breaches[(row["office"], "escalation")] += row["escalations"]
    shown_outcomes: Counter[tuple[str, str]] = Counter()
    for row in report["outcomes"]:
        shown_outcomes[(row["office"], row["outcome"])] += row["cases"]
    assert shown_handled == handled
    assert +shown_breaches == breaches
    assert shown_outcomes == outcomes
    assert report["open_past_due"] == dict(past_due)

    verified = alliance(team.engine, "audit", "verify", TOKEN_PEPPER=PEPPER)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    with pytest.raises(SeedRefused, match="30 generated cases"):
        await seed_cases(settings, team.engine, dev_server.client, count=5, months=1, seed=8, now=datetime.now(UTC))

    still_open = next(s for s in outcome_of.values() if s.stage != Stage.CLOSED)
    async with build_worker(dev_server.client, settings.temporal_task_queue, team.engine, keys=settings.audit_keys):
        noted = await team.ok(still_open.id, "add_note", COORDINATOR, text="Seen after seeding.")
    assert noted["stage"] == still_open.stage
    verified = alliance(team.engine, "audit", "verify", "--case", still_open.id, TOKEN_PEPPER=PEPPER)
    assert verified.returncode == 0, verified.stdout + verified.stderr


async def test_seeding_is_refused_in_production(quiet_team: Team) -> None:
    assert quiet_team.engine is not None
    refused = alliance(quiet_team.engine, "seed-cases", "--count", "3", ENVIRONMENT="production",
                       TOKEN_PEPPER=secrets.token_hex(32), AUDIT_SIGNING_KEY=secrets.token_hex(32))
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "seed-cases: refused with ENVIRONMENT=production: generated cases are for development"]
    async with quiet_team.engine.connect() as conn:
        assert (await conn.execute(select(cases.c.id))).first() is None
