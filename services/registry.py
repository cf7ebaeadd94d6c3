"""The SME registry's use cases: look companies up a page at a time, and import a registry CSV (all rows or none)."""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.service import RPCError

from contracts.case import CONSENT_WITHDRAWN_SIGNAL, ConsentWithdrawn, workflow_id
from domain.model import CaseState
from infra.sme_registry import (
    ImportOutcome,
    RegistrySearch,
    import_registry_csv,
    open_cases_with,
    search_query,
    without_consent,
)
from services.context import Services

log = structlog.get_logger(__name__)


def _sme_view(row: Any) -> dict[str, Any]:
    sme = dict(row)
    sme["corporate_number"] = sme.pop("id")
    sme["updated_at"] = sme["updated_at"].isoformat()
    return sme


async def search_smes(
    services: Services,
    *,
    q: str | None = None,
    prefecture: str | None = None,
    industry: str | None = None,
    technology: str | None = None,
    consent: bool | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of matching SMEs in corporate-number order, and the cursor of the next (None at the end)."""
    search = RegistrySearch(q, prefecture, industry, technology, consent, limit + 1, cursor)
    async with services.engine.connect() as conn:
        rows = (await conn.execute(search_query(search))).mappings().all()
    items = [_sme_view(row) for row in rows[:limit]]
    return items, items[-1]["corporate_number"] if len(rows) > limit else None


async def import_registry(services: Services, content: str) -> ImportOutcome:
    """Import a registry CSV's text: every row, or none when any row has a problem (`ImportOutcome.problems`).
    Each open case a withdrawal of consent affects is told, to put it on its trail (`tell_withdrawals`)."""
    # newline="" as the csv module asks (and the CLI does): str.splitlines would also break lines at form
    # feeds, U+0085 or U+2028 inside a cell, splitting rows and miscounting every later line number.
    outcome = await import_registry_csv(services.engine, io.StringIO(content, newline=""), datetime.now(UTC))
    await tell_withdrawals(services.engine, services.temporal, outcome.withdrawn)
    return outcome


async def tell_withdrawals(engine: AsyncEngine, temporal: Client, withdrawn: list[str]) -> None:
    """Signal every open case with any of the `withdrawn` SMEs among its candidates (its workflow records a
    `consent_withdrawn` event naming them). A case whose workflow is not running is logged, not failed: the
    registry change stands, and the case refuses further steps with them anyway."""
    for case_id, sme_ids in (await open_cases_with(engine, withdrawn)).items():
        try:
            handle = temporal.get_workflow_handle(workflow_id(case_id))
            await handle.signal(CONSENT_WITHDRAWN_SIGNAL, ConsentWithdrawn(sme_ids=sme_ids[:100]))
        except RPCError as error:
            log.warning("withdrawal of consent not told to its case", case_id=case_id, error=str(error)[:300])


async def consent_withdrawn(services: Services, states: Iterable[CaseState]) -> frozenset[str]:
    """The candidates of these cases that have withdrawn their consent to be matched in the registry since."""
    wanted = {candidate.sme_id for state in states for candidate in state.candidates}
    if not wanted:
        return frozenset()
    async with services.read_engine.connect() as conn:
        return frozenset(await without_consent(conn, wanted))
