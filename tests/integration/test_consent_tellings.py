"""A registry import that withdraws consent affecting thousands of open cases still stands, with one row to tell per
(open case, SME): the rows go in batches, never as one statement past PostgreSQL's 32,767 parameters."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.samples import demo_sme_rows
from infra.sme_registry import import_registry_csv, seed_demo_smes
from infra.tables import cases, consent_tellings
from tests.helpers.registry import registry_row

OPEN_CASES = 7_000
"""More (case, SME) rows than one statement of five columns a row can carry (32,767 parameters / 5)."""


async def test_a_withdrawal_affecting_thousands_of_open_cases_is_imported_and_kept_to_tell(
    registry: AsyncEngine,
) -> None:
    await seed_demo_smes(registry)
    sme = demo_sme_rows(datetime.now(UTC))[0]
    now = datetime.now(UTC)
    async with registry.begin() as conn:
        await conn.execute(insert(cases), [
            {"id": str(uuid.uuid4()), "reference": f"GA-T-{n}", "stage": "matching", "applicant_org": "acme-gmbh",
             "company_name": "Acme", "seq": 1, "snapshot": {"stage": "matching", "candidates": [{"sme_id": sme["id"]}]},
             "created_at": now, "updated_at": now} for n in range(OPEN_CASES)])
    listed = {**sme, "corporate_number": sme["id"], "updated_at": (now + timedelta(seconds=1)).isoformat()}
    outcome = await import_registry_csv(registry, io.StringIO(registry_row(listed, consent=False), newline=""),
                                        now + timedelta(seconds=2))
    assert outcome.problems == [] and outcome.withdrawn == [sme["id"]] and len(outcome.to_tell) == OPEN_CASES
    async with registry.connect() as conn:
        kept = await conn.scalar(select(func.count()).select_from(consent_tellings)
                                 .where(consent_tellings.c.done_at.is_(None)))
    assert kept == OPEN_CASES


async def test_one_open_case_whose_record_is_no_case_does_not_stop_the_import(registry: AsyncEngine) -> None:
    """The open cases a withdrawal affects are found in SQL over each record's candidates: one record whose
    `candidates` its owner made an object (jsonb_array_elements fails on it) refused the whole import. Only records
    whose candidates are a list are searched now; the others go on being told."""
    await seed_demo_smes(registry)
    sme = demo_sme_rows(datetime.now(UTC))[0]
    now = datetime.now(UTC)
    intact, damaged = str(uuid.uuid4()), str(uuid.uuid4())
    async with registry.begin() as conn:
        await conn.execute(insert(cases), [
            {"id": case_id, "reference": f"GA-T-{n}", "stage": "matching", "applicant_org": "acme-gmbh",
             "company_name": "Acme", "seq": 1, "snapshot": {"stage": "matching", "candidates": candidates},
             "created_at": now, "updated_at": now}
            for n, (case_id, candidates) in enumerate([(intact, [{"sme_id": sme["id"]}]),
                                                       (damaged, {"sme_id": sme["id"]})])])
    listed = {**sme, "corporate_number": sme["id"], "updated_at": (now + timedelta(seconds=1)).isoformat()}
    outcome = await import_registry_csv(registry, io.StringIO(registry_row(listed, consent=False), newline=""),
                                        now + timedelta(seconds=2))
    assert outcome.problems == [] and outcome.withdrawn == [sme["id"]] and len(outcome.to_tell) == 1
    async with registry.connect() as conn:
        told = await conn.scalars(select(consent_tellings.c.case_id))
        assert [str(case_id) for case_id in told] == [intact]
