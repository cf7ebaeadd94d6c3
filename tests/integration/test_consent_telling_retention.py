"""Retention deletes the consent tellings done longer ago than RETENTION_YEARS (`infra.consent_tellings.purge_done`,
run by `infra.retention.archive_closed_cases` with the access log's cutoff), and no telling still to tell."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.consent_tellings import Outcome
from infra.retention import archive_closed_cases
from infra.settings import Settings
from infra.tables import consent_tellings


def telling(withdrawn_at: datetime, done_at: datetime | None) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "case_id": str(uuid.uuid4()), "sme_id": "1234567890123",
            "withdrawn_at": withdrawn_at, "next_attempt_at": withdrawn_at, "done_at": done_at,
            "outcome": Outcome.TOLD if done_at is not None else None}


async def test_done_tellings_past_retention_are_deleted_and_no_others(registry: AsyncEngine, tmp_path: Path,
                                                                      settings: Settings) -> None:
    now = datetime.now(UTC)
    cutoff = now - timedelta(days=round(365.25 * settings.retention_years))
    long_ago = cutoff - timedelta(days=400)
    done_long_ago = telling(long_ago, long_ago + timedelta(minutes=1))
    done_just_past = telling(long_ago, cutoff - timedelta(seconds=1))
    done_lately = telling(long_ago, cutoff + timedelta(days=1))  # withdrawn long ago: the period runs from done_at
    done_now = telling(now, now)
    pending = telling(long_ago, None)  # never told: however old, its case is still to be told
    async with registry.begin() as conn:
        await conn.execute(insert(consent_tellings), [done_long_ago, done_just_past, done_lately, done_now, pending])
    report = await archive_closed_cases(registry, cutoff, tmp_path, settings.retention_years, now,
                                        settings.audit_keys)
    assert report.consent_tellings_deleted == 2
    async with registry.connect() as conn:
        kept = set((await conn.scalars(select(consent_tellings.c.id))).all())
    assert kept == {done_lately["id"], done_now["id"], pending["id"]}
