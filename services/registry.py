"""The SME registry's use cases: look companies up a page at a time, and import a registry CSV (all rows or none)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from infra.consent_tellings import untold
from infra.sme_registry import (
    ImportOutcome,
    RegistrySearch,
    import_registry_csv,
    search_query,
)
from services.consent_courier import ConsentCourier
from services.context import Services

log = structlog.get_logger(__name__)

TOLD_IN_A_REQUEST = 200
"""Withdrawals an import over HTTP tells its cases before answering; the courier tells any more."""


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
    Each open case a withdrawal of consent affects is to be told, in the import's own transaction; it is told
    at once when Temporal answers, else by the worker's courier later (`services.consent_courier`)."""
    # newline="" as the csv module asks (and the CLI does): str.splitlines would also break lines at form
    # feeds, U+0085 or U+2028 inside a cell, splitting rows and miscounting every later line number.
    outcome = await import_registry_csv(services.engine, io.StringIO(content, newline=""), datetime.now(UTC))
    # An HTTP request tells a bounded number at once (7,000 took about 50 s inside the request); the worker's
    # courier tells the rest from the same durable rows.
    await tell_withdrawals(services.engine, services.temporal, outcome.to_tell[:TOLD_IN_A_REQUEST])
    return outcome


async def tell_withdrawals(engine: AsyncEngine, temporal: Client, to_tell: list[str]) -> int:
    """Tell their cases the withdrawals `to_tell` (`consent_tellings` ids) now, once each; those Temporal does not
    take now stay for the worker's courier. How many remain untold."""
    if not to_tell:
        return 0
    try:
        await ConsentCourier(engine, temporal).tell_due(to_tell)
        return await untold(engine, to_tell)
    except (SQLAlchemyError, OSError) as error:  # the import stands and its rows are kept: the courier tells them
        log.warning("withdrawals of consent not told now", to_tell=len(to_tell), error=str(error)[:300])
        return len(to_tell)
