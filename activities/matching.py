"""A first matching engine over the SME registry: technology overlap, filtered by the officer's criteria.

The activity's contract (`FindCandidates` → list of `Candidate`) is what the full engine will keep.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from domain.model import Candidate
from domain.scoring import score_sme
from infra.tables import smes
from workflows.contracts import FIND_CANDIDATES, FindCandidates


class Matching:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @activity.defn(name=FIND_CANDIDATES)
    async def find_candidates(self, command: FindCandidates) -> list[Candidate]:
        criteria, seeking = command.criteria, command.seeking
        query = select(smes).where(smes.c.consent.is_(True))
        industries = criteria.industries or seeking.industries
        prefectures = criteria.prefectures or seeking.prefectures
        if industries:
            query = query.where(smes.c.industries.overlap(industries))
        if prefectures:
            query = query.where(smes.c.prefecture.in_(prefectures))
        if criteria.min_employees is not None:
            query = query.where(smes.c.employees >= criteria.min_employees)
        if criteria.max_employees is not None:
            query = query.where(smes.c.employees <= criteria.max_employees)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        scored = [score_sme(dict(row), seeking.technologies) for row in rows]
        ranked = sorted((c for c in scored if c.score > 0), key=lambda c: (-c.score, c.sme_id))
        return ranked[: criteria.limit]
