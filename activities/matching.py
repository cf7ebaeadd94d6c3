"""The matching engine as an activity: the SME registry ranked for one case, each candidate explained.

Its contract (`FindCandidates` → list of `Candidate`) is what `run_matching` records, in the case state and
in the audit event, so an officer (and later an auditor) sees exactly what was proposed and why.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity

from contracts.activities import FIND_CANDIDATES, FindCandidates
from domain.matching import FACTORS, GENERIC_WORDS, Explanation, MatchWeights
from domain.model import Candidate
from infra.candidate_query import SoughtTechnology, candidate_query

log = structlog.get_logger()


class Matching:
    def __init__(self, engine: AsyncEngine, weights: MatchWeights | None = None) -> None:
        self.engine = engine
        self.weights = weights or MatchWeights()
        self._words: dict[str, tuple[str, list[str]]] = {}

    async def _sought(self, conn: AsyncConnection, technologies: list[str]) -> list[SoughtTechnology]:
        """Each sought technology as PostgreSQL's English configuration reads it (cached: it never changes)."""
        missing = [name for name in dict.fromkeys([GENERIC_WORDS, *technologies]) if name not in self._words]
        if missing:
            rows = await conn.execute(
                text(
                    "SELECT t, phraseto_tsquery('english', t)::text, tsvector_to_array(to_tsvector('english', t)) "
                    "FROM unnest(CAST(:names AS text[])) t"
                ),
                {"names": missing},
            )
            self._words.update({name: (phrase, list(words)) for name, phrase, words in rows})
        generic = set(self._words[GENERIC_WORDS][1])
        sought = []
        for name in technologies:
            phrase, words = self._words[name]
            sought.append(SoughtTechnology(name, phrase, [word for word in words if word not in generic]))
        return sought

    async def rank(self, command: FindCandidates, as_of: datetime) -> list[Candidate]:
        """The best `criteria.limit` candidates, best first; ties in score go by corporate number."""
        seeking, criteria = command.seeking, command.criteria
        async with self.engine.connect() as conn:
            sought = await self._sought(conn, seeking.technologies)

            query = candidate_query(
                sought, seeking.industries, seeking.prefectures, seeking.employees, criteria, self.weights, as_of
            )
            rows = (await conn.execute(query)).mappings().all()
        return [_candidate(row, sought) for row in rows]

    @activity.defn(name=FIND_CANDIDATES)
    async def find_candidates(self, command: FindCandidates) -> list[Candidate]:
        as_of = activity.info().scheduled_time if activity.in_activity() else datetime.now(UTC)
        candidates = await self.rank(command, as_of)
        log.info("matching.ranked", candidates=len(candidates), technologies=command.seeking.technologies)
        return candidates


def _candidate(row: Any, sought: list[SoughtTechnology]) -> Candidate:
    exact = [t.name for i, t in enumerate(sought) if row[f"exact_{i}"]]
    partial = [t.name for i, t in enumerate(sought) if not row[f"exact_{i}"] and row[f"match_{i}"] > 0]
    explanation = Explanation(
        exact=exact,
        partial=partial,
        sought=len(sought),
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
