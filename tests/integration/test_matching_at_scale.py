"""`run_matching` through the case workflow, on a seeded registry of 100,000 SMEs.

The registry lives in a database of its own (seeding it into the shared one would change every other
test's candidates); the case is driven through the same `CaseDesk` the API uses.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from app.sme_generator import seed_smes
from domain.filing import FilingRequest
from domain.model import Office
from infra.db import create_engine, session_factory
from infra.settings import Settings
from services.case_desk import CaseDesk
from services.context import Services
from tests.helpers.mail import MailSink
from tests.helpers.people import APPLICANT_ACTOR, COORDINATOR_ACTOR, SBIC, officer_actor
from tests.helpers.support import filing
from workers.case_worker import build_worker

REGISTRY_SIZE = 100_000


@pytest.fixture
async def large_registry(migrated_database: str, settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings, migrated_database)
    async with engine.begin() as conn:
        await seed_smes(conn, REGISTRY_SIZE, seed=3, now=datetime.now(UTC))
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE smes"))
    yield engine
    await engine.dispose()


@pytest.mark.long
async def test_run_matching_over_100000_smes_returns_explained_candidates(
    large_registry: AsyncEngine, env: WorkflowEnvironment, settings: Settings, mail_sink: MailSink
) -> None:
    queue = f"scale-{uuid.uuid4()}"
    local = settings.model_copy(update={"temporal_task_queue": queue})
    desk = CaseDesk(Services(local, large_registry, session_factory(large_registry), env.client))
    request = FilingRequest.model_validate(
        filing(seeking={"technologies": ["precision machining", "sensors", "surface treatment"],
                        "industries": ["E"], "prefectures": ["Aichi"], "alliance_types": ["capital_alliance"]})
    )
    async with build_worker(env.client, queue, large_registry, local.match_weights, keys=local.audit_keys):
        case = await desk.file(APPLICANT_ACTOR, request, None)
        await desk.act(case.id, COORDINATOR_ACTOR, "relay", {"offices": [Office.SBIC]})
        await desk.act(case.id, officer_actor(SBIC), "accept_case", {})
        matched = await desk.act(case.id, officer_actor(SBIC), "run_matching", {"limit": 20})

    candidates = matched.candidates
    assert len(candidates) == 20
    assert [c.score for c in candidates] == sorted((c.score for c in candidates), reverse=True)
    best = candidates[0]
    assert set(best.factors) == {"technology_fit", "industry", "region", "size_fit", "readiness"}
    assert " of 3 sought technologies" in best.reason and "employees" in best.reason
    async with large_registry.connect() as conn:
        consenting = set(
            (await conn.execute(
                text("SELECT id FROM smes WHERE consent AND id = ANY(:ids)"), {"ids": [c.sme_id for c in candidates]}
            )).scalars()
        )
        recorded = (await conn.execute(
            text("SELECT payload FROM audit_events WHERE case_id = :id AND type = 'run_matching'"), {"id": case.id}
        )).scalar_one()
    assert consenting == {c.sme_id for c in candidates}, "only SMEs that consented are proposed"
    assert [c["sme_id"] for c in recorded["candidates"]] == [c.sme_id for c in candidates], "the audit event says who"
