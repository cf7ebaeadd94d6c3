"""Storing generated cases (`alliance seed-cases`, `domain.generated_cases`): their signed chains and read model."""

from __future__ import annotations

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.audit import AuditEntry
from domain.generated_cases import GENERATED_REFERENCE_PREFIX
from domain.model import Candidate, CaseState
from infra.case_rows import case_upsert
from infra.tables import audit_events, cases, smes


async def generated_cases_stored(engine: AsyncEngine) -> int:
    """How many generated cases (reference `GEN-…`) the database holds."""
    async with engine.connect() as conn:
        query = select(func.count()).where(cases.c.reference.startswith(GENERATED_REFERENCE_PREFIX))
        return int(await conn.scalar(query) or 0)


async def registry_sample(engine: AsyncEngine, limit: int = 50) -> list[Candidate]:
    """Up to `limit` consenting SMEs of the registry, as matching candidates of generated cases."""
    query = (select(smes.c.id, smes.c.name).where(smes.c.consent, smes.c.closed_on.is_(None))
             .order_by(smes.c.id).limit(limit))
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [Candidate(sme_id=r.id, name=r.name, score=round(0.9 - 0.01 * n, 2), factors={"technology": 0.5},
                      reason="generated") for n, r in enumerate(rows)]


async def store_generated(engine: AsyncEngine, batch: list[tuple[list[AuditEntry], CaseState]]) -> None:
    """Generated cases' signed events and read-model rows, in one transaction (no e-mail: nobody is told)."""
    async with engine.begin() as conn:
        await conn.execute(insert(audit_events), [e.model_dump() for entries, _ in batch for e in entries])
        for _, state in batch:
            await conn.execute(case_upsert(state))
