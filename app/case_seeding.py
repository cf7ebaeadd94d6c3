"""`alliance seed-cases`: a year of generated, back-dated cases so the dashboard and the reports show real shapes.

Each case's events are made by `domain.generated_cases` (the rules and transitions real cases go through, with the
service-level timers fired at their moments), signed with AUDIT_SIGNING_KEY and chained like real ones, and stored
with the read model, never through a live workflow: a workflow records the time it runs, so a year of history cannot
be replayed through one without lying about when things happened. Cases still open at the end get their workflow,
started from the case as it stands (as a workflow continued as new is), so they can be worked, claimed and reassigned
like any other; the timers already due fired in the history, the next ones fire live.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy

from contracts import search_attributes as sa
from contracts.case import CASE_WORKFLOW, CaseInput
from domain.audit import sign
from domain.generated_cases import GeneratedCase, Staff, filing_times, generate_case
from domain.model import FUND, JETRO, Actor, CaseState, Office, Role, Stage
from domain.workflow_ids import case_workflow_id
from infra.db import session_factory
from infra.generated_cases import generated_cases_stored, registry_sample, store_generated
from infra.settings import Settings
from infra.users import people_of

BATCH = 200
"""Cases stored per transaction (and workflows started at once)."""
HANDLERS = {JETRO: Role.COORDINATOR, FUND: Role.FUND_COMMITTEE, **{str(o): Role.OFFICE_OFFICER for o in Office}}
"""Who handles generated cases in each organisation."""


class SeedRefused(Exception):
    """Seeding cannot start (one line saying why); nothing was written."""


@dataclass
class Seeded:
    cases: int = 0
    events: int = 0
    open: int = 0


async def handling_staff(engine: AsyncEngine) -> Staff:
    """The users who handle generated cases: JETRO's coordinators, each office's officers, the Fund's members."""
    sessions = session_factory(engine)
    people = {org: [Actor(id=p.id, name=p.name, role=role, org=org)
                    for p in await people_of(sessions, org) if p.role == role]
              for org, role in HANDLERS.items()}
    return Staff(people)


async def seed_cases(settings: Settings, engine: AsyncEngine, client: Client, *, count: int, months: int, seed: int,
                     now: datetime, progress: Callable[[int], None] = lambda n: None,
                     kept: list[GeneratedCase] | None = None) -> Seeded:
    """Generate, sign and store `count` cases filed over the `months` before `now`; start a workflow for each one
    still open. `progress` is told how many cases each batch stored; `kept` collects the cases (for tests).

    Raises `SeedRefused` when generated cases are there already (a second run would double the history) or an
    organisation has nobody to handle them.
    """
    if (already := await generated_cases_stored(engine)) > 0:
        raise SeedRefused(f"{already:,} generated cases (references GEN-…) are here already; seeding again would "
                          "double the history: start from an empty database")
    staff = await handling_staff(engine)
    if missing := staff.missing():
        raise SeedRefused(f"nobody to handle generated cases in {', '.join(missing)}: add users there first "
                          "(`alliance run` makes the demo users in development)")
    registry = await registry_sample(engine)
    if not registry:
        raise SeedRefused("the SME registry is empty: `alliance run` seeds a demo registry, `alliance seed-smes` more")
    rng = random.Random(seed)
    signer, levels = settings.audit_keys.signer, settings.service_levels()
    seeded = Seeded()
    times = filing_times(rng, count, now, months)
    for start in range(0, count, BATCH):
        made = [generate_case(rng, start + n + 1, at, now, staff, registry, levels)
                for n, at in enumerate(times[start:start + BATCH])]
        batch = [([sign(e, signer) for e in case.entries], case.state) for case in made if case.state is not None]
        await store_generated(engine, batch)
        still_open = [state for _, state in batch if state.stage != Stage.CLOSED]
        await asyncio.gather(*(_start_workflow(settings, client, state) for state in still_open))
        seeded.cases += len(batch)
        seeded.events += sum(len(entries) for entries, _ in batch)
        seeded.open += len(still_open)
        if kept is not None:
            kept += made
        progress(len(batch))
    return seeded


async def _start_workflow(settings: Settings, client: Client, state: CaseState) -> None:
    """The open case's workflow, holding the case as the history left it (as after a continue-as-new)."""
    attributes: list[SearchAttributePair[Any]] = [
        SearchAttributePair(sa.CASE_STAGE, str(state.stage)), SearchAttributePair(sa.CASE_OUTCOME, state.outcome or ""),
        SearchAttributePair(sa.CASE_OFFICES, [str(r.office) for r in state.offices]),
        SearchAttributePair(sa.CASE_REFERENCE, state.reference), SearchAttributePair(sa.CASE_OVERDUE, state.overdue),
        SearchAttributePair(sa.CASE_ESCALATION, state.escalation_level),
        *([SearchAttributePair(sa.CASE_DUE_AT, state.due_at)] if state.due_at else []),
    ]
    await client.start_workflow(
        CASE_WORKFLOW, CaseInput(case_id=state.id, state=state, service_levels=settings.service_levels()),
        id=case_workflow_id(state.id), task_queue=settings.temporal_task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=TypedSearchAttributes(attributes),
    )
