"""Numbers PostgreSQL's jsonb prints otherwise than Python (`-0.0` as `0.0`, `1e+16` as `10000000000000000`):
an event holding them, as `domain.audit.make_entry` makes it, still verifies once read back through real
PostgreSQL, by the streamed verifiers (jsonb text, `domain.stored_events`) and the per-case one (`AuditEntry`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.audit import GENESIS_HASH, AuditEntry, as_jsonb_keeps, canonical_time, make_entry
from domain.chain_verification import EventRow, link_problem
from domain.stored_events import stored_link_problem

RISKY: dict[str, Any] = {
    "big": 1e16, "bigger": 1.2345678901234567e+20, "negative_big": -1e22, "huge": 1.5e300, "negative_zero": -0.0,
    "zero": 0.0, "small": 1e-07, "score": 0.95, "whole": 100.0, "nested": [{"contact": -0.0}, 2.5e-05],
    "contact": {"name": "Anna", "weight": 1e17},
}


async def as_jsonb_prints(engine: AsyncEngine, value: Any) -> str:
    async with engine.connect() as conn:
        return str(await conn.scalar(text("SELECT CAST(:value AS jsonb)::text"), {"value": json.dumps(value)}))


@pytest.mark.parametrize("salt", [None, "0f" * 16])
async def test_an_event_with_numbers_jsonb_rewrites_verifies_after_postgresql(
    engine: AsyncEngine, salt: str | None
) -> None:
    entry = make_entry(case_id="5b1f0c3e-8d2a-4c6b-9f4e-2a7d1e0b9c12", seq=1, type="note",
                       actor={"id": "u-1", "role": "office_officer"}, at=datetime(2026, 4, 6, tzinfo=UTC),
                       stage_before=None, stage_after="matching", payload=RISKY, prev_hash=GENESIS_HASH, salt=salt)
    payload = await as_jsonb_prints(engine, entry.payload)
    personal = None if entry.personal is None else await as_jsonb_prints(engine, entry.personal)
    stored = EventRow(entry.case_id, entry.seq, entry.type, await as_jsonb_prints(engine, entry.actor),
                      canonical_time(entry.at), entry.stage_before, entry.stage_after, payload, entry.prev_hash,
                      entry.hash, entry.hash_version, personal, entry.personal_salt, entry.personal_digest, None, None)
    assert "10000000000000000" in payload and "-0.0" not in payload  # PostgreSQL did rewrite them
    assert stored_link_problem(stored, GENESIS_HASH) is None
    read_back = AuditEntry.model_validate({**entry.model_dump(), "payload": json.loads(payload),
                                           "personal": None if personal is None else json.loads(personal)})
    assert link_problem(read_back, GENESIS_HASH) is None


def test_only_the_numbers_jsonb_rewrites_are_changed() -> None:
    """Every other float is taken as Python reads it, so events written before keep their hashes."""
    assert [as_jsonb_keeps(t) for t in ("1e+16", "-1e+22", "1.2345678901234567e+20", "-0.0")] == [
        10**16, -10**22, 123456789012345670000, 0.0]
    for token in ("0.95", "1e-07", "2.5e-05", "100.0", "9999999999999998.0", "5e-324", "0.30000000000000004"):
        assert as_jsonb_keeps(token) == float(token) and type(as_jsonb_keeps(token)) is float
