"""Rank candidates for a case and keep them in PostgreSQL, so that only ids and scores cross Temporal."""

from __future__ import annotations

import json

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from activities.failures import classified
from activities.matching import Matching
from contracts.activities import RANK_CANDIDATES, FindCandidates, Ranked
from domain.texts import bound_candidates_of, ref_of
from domain.workflow_ids import case_of_workflow
from infra.texts import keep_texts


class CandidateRanking:
    def __init__(self, engine: AsyncEngine, matching: Matching) -> None:
        self.engine = engine
        self.matching = matching

    @activity.defn(name=RANK_CANDIDATES)
    @classified(RANK_CANDIDATES)
    async def rank_candidates(self, command: FindCandidates) -> Ranked:
        """Idempotent: the same ranking is kept under the same reference (its content's digest)."""
        info = activity.info()
        candidates = await self.matching.rank(command, info.scheduled_time)
        kept = json.dumps([c.model_dump(mode="json") for c in candidates], ensure_ascii=False, sort_keys=True)
        ref = ref_of(kept)
        async with self.engine.begin() as conn:
            await keep_texts(conn, case_of_workflow(info.workflow_id) or "", {ref: kept})
        return Ranked(candidates=bound_candidates_of(candidates), ref=ref)
