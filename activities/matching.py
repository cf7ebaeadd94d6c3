"""The matching engine as an activity: the SME registry ranked for one case, each candidate explained.

Its contract (`FindCandidates` → list of `Candidate`) is what `run_matching` records, in the case state and
in the audit event, so an officer (and later an auditor) sees exactly what was proposed and why.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from activities.failures import classified
from contracts.activities import FIND_CANDIDATES, FindCandidates
from domain.matching import FACTORS, Explanation, MatchWeights
from domain.model import Candidate
from infra.candidate_query import candidate_query

log = structlog.get_logger()


class Matching:
    def __init__(self, engine: AsyncEngine, weights: MatchWeights | None = None) -> None:
        self.engine = engine
        self.weights = weights or MatchWeights()

    async def rank(self, command: FindCandidates, as_of: datetime) -> list[Candidate]:
        """The best `criteria.limit` candidates, best first; ties in score go by corporate number."""
        seeking, criteria = command.seeking, command.criteria
        query = candidate_query(
            seeking.technologies, seeking.industries, seeking.prefectures, seeking.employees, criteria, self.weights,
            as_of,
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_candidate(row, seeking.technologies) for row in rows]

    @activity.defn(name=FIND_CANDIDATES)
    @classified(FIND_CANDIDATES)
    async def find_candidates(self, command: FindCandidates) -> list[Candidate]:
        as_of = activity.info().scheduled_time if activity.in_activity() else datetime.now(UTC)
        candidates = await self.rank(command, as_of)
        log.info("matching.ranked", candidates=len(candidates), technologies=command.seeking.technologies)
        return candidates


def _candidate(row: Any, technologies: list[str]) -> Candidate:
    named = list(zip(technologies, row["exact"], row["matches"], strict=True))
    exact = [name for name, whole, _ in named if whole]
    partial = [name for name, whole, value in named if not whole and value > 0]
    explanation = Explanation(
        exact=exact,
        partial=partial,
        sought=len(technologies),
        prefecture=row["prefecture"],
        employees=row["employees"],
        certifications=list(row["certifications"]),
    )
    return Candidate(
        sme_id=row["id"],
        name=row["name"],
        score=round(float(row["score"]), 4),
        factors={name: round(float(row[name]), 4) for name in FACTORS},
        reason=explanation.reason(),
    )
