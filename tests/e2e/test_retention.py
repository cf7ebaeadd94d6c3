"""Retention: a closed case past its period is exported, verified and stripped of personal contact data;
the erasure is itself an audit event and the chain still verifies."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.audit import REDACTED, REDACTION_EVENT
from infra.audit_tables import access_log
from infra.export_check import check_export
from infra.retention import archive_case, archive_closed_cases, due_for_archiving
from infra.settings import Settings
from tests.helpers.desk import Desk
from tests.helpers.people import APPLICANT, AUDITOR, COORDINATOR


async def closed_case(desk: Desk) -> tuple[dict[str, Any], str]:
    email = f"person-{uuid.uuid4().hex[:8]}@acme.example"
    case = await desk.file(APPLICANT, contact={"name": "Anna Schmidt", "email": email, "language": "en"})
    await desk.ok(case, "relay", COORDINATOR, offices=["sbic"])
    closed = await desk.ok(case, "withdraw", APPLICANT, reason="plans changed")
    assert closed["stage"] == "closed"
    return closed, email


async def mentions(engine: AsyncEngine, needle: str) -> dict[str, int]:
    async with engine.connect() as conn:
        return {
            table: (await conn.execute(text(f"SELECT count(*) FROM {table} t WHERE t::text LIKE :n"),
                                       {"n": f"%{needle}%"})).scalar_one()
            for table in ("audit_events", "cases", "notifications")
        }


async def test_archiving_exports_verifies_and_erases_the_contact(desk: Desk, engine: AsyncEngine,
                                                                  tmp_path: Path, settings: Settings) -> None:
    case, email = await closed_case(desk)
    cid = case["id"]
    before = await desk.history(cid, AUDITOR)
    assert before[0]["personal"]["contact"]["email"] == email and "contact" not in before[0]["payload"]
    assert (await mentions(engine, email))["audit_events"] == 1
    assert cid in await due_for_archiving(engine, datetime.now(UTC) + timedelta(seconds=1))

    path = Path(await archive_case(engine, cid, tmp_path, retention_years=10, now=datetime.now(UTC),
                                       keys=settings.audit_keys))

    exported = await asyncio.to_thread(path.read_bytes)
    assert check_export(exported).ok and check_export(exported).count == len(before)
    assert email.encode() in exported, "what is erased was exported first"
    assert await mentions(engine, email) == {"audit_events": 0, "cases": 0, "notifications": 0}
    after = await desk.history(cid, AUDITOR)
    assert [e["hash"] for e in after[:-1]] == [e["hash"] for e in before], "no recorded event changed its hash"
    assert after[0]["redacted"] and after[0]["personal"] is None
    erasure = after[-1]
    assert (erasure["type"], erasure["actor"]["id"], erasure["payload"]["events"]) == (REDACTION_EVENT, "system", [1])
    verified = (await desk.http.get(f"/api/cases/{cid}/history/verify", headers=desk.headers(AUDITOR))).json()
    assert verified == {"valid": True, "events": len(before) + 1, "first_broken_seq": None, "reason": None,
                        "signed": len(before) + 1, "unsigned": 0, "checkpoint": None}, "a redacted trail still verifies"
    seen = (await desk.get(cid, COORDINATOR)).json()
    assert seen["request"]["contact"]["name"] == REDACTED and seen["stage"] == "closed"
    past = (await desk.http.get(f"/api/cases/{cid}", params={"as_of": before[0]["at"]},
                                headers=desk.headers(AUDITOR))).json()
    assert past["stage"] == "screening" and past["request"]["contact"]["name"] == REDACTED
    assert cid not in await due_for_archiving(engine, datetime.now(UTC) + timedelta(seconds=1))


async def test_open_cases_are_not_due(desk: Desk, engine: AsyncEngine) -> None:
    case = await desk.file(APPLICANT)
    assert case["id"] not in await due_for_archiving(engine, datetime.now(UTC) + timedelta(days=1))


async def test_the_guard_lets_only_a_redaction_through_and_an_unrecorded_one_is_found(
    desk: Desk, engine: AsyncEngine
) -> None:
    case, _ = await closed_case(desk)
    cid = case["id"]
    with pytest.raises(DBAPIError, match="append-only"):
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE audit_events SET personal = NULL, personal_salt = NULL, "
                                    "payload = '{}' WHERE case_id = :id AND seq = 1"), {"id": cid})
    async with engine.begin() as conn:  # erased behind the application's back, with no redaction event
        await conn.execute(text("UPDATE audit_events SET personal = NULL, personal_salt = NULL "
                                "WHERE case_id = :id AND seq = 1"), {"id": cid})
    verified = (await desk.http.get(f"/api/cases/{cid}/history/verify", headers=desk.headers(AUDITOR))).json()
    assert (verified["valid"], verified["first_broken_seq"]) == (False, 1)
    assert "no redaction is recorded" in verified["reason"]


async def test_altered_personal_data_is_found(desk: Desk, engine: AsyncEngine) -> None:
    case, _ = await closed_case(desk)
    async with engine.begin() as conn:
        await conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete"))
        await conn.execute(text("UPDATE audit_events SET personal = jsonb_set(personal, '{contact,name}', "
                                "'\"Someone Else\"') WHERE case_id = :id AND seq = 1"), {"id": case["id"]})
        await conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete"))
    verified = (await desk.http.get(f"/api/cases/{case['id']}/history/verify",
                                    headers=desk.headers(AUDITOR))).json()
    assert (verified["valid"], verified["first_broken_seq"]) == (False, 1)
    assert "personal data" in verified["reason"]


async def test_archiving_deletes_the_case_texts_kept_for_its_workflow(desk: Desk, engine: AsyncEngine,
                                                                     tmp_path: Path, settings: Settings) -> None:
    """The free texts (`case_texts`: the description, the offers, the withdrawal's reason…) go with retention too;
    the audit events keep what was recorded."""
    case, _ = await closed_case(desk)
    count = text("SELECT count(*) FROM case_texts WHERE case_id = :id")
    async with engine.connect() as conn:
        assert (await conn.execute(count, {"id": case["id"]})).scalar_one() > 0
    await archive_case(engine, case["id"], tmp_path, retention_years=10, now=datetime.now(UTC),
                       keys=settings.audit_keys)
    async with engine.connect() as conn:
        assert (await conn.execute(count, {"id": case["id"]})).scalar_one() == 0
    assert (await desk.history(case["id"], AUDITOR))[-2]["payload"]["reason"] == "plans changed"


async def test_access_log_rows_past_retention_are_deleted_and_no_others(engine: AsyncEngine, tmp_path: Path,
                                                                        settings: Settings) -> None:
    now, person = datetime.now(UTC), f"u-{uuid.uuid4().hex[:8]}"
    cutoff = now - timedelta(days=round(365.25 * 10))
    rows = [{"at": at, "person_id": person, "person_name": "Kenji", "role": "coordinator", "org": "jetro",
             "fields": ["request.contact"], "route": "GET /api/cases/{case_id}"}
            for at in (cutoff - timedelta(days=400), cutoff - timedelta(seconds=1), now)]
    async with engine.begin() as conn:
        await conn.execute(access_log.insert(), rows)
    kept = text("SELECT at FROM access_log WHERE person_id = :p ORDER BY at")
    with pytest.raises(DBAPIError, match="append-only"):  # without a declared cutoff, nothing goes
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM access_log WHERE person_id = :p AND at < :c"),
                               {"p": person, "c": cutoff})
    with pytest.raises(DBAPIError, match="append-only"):  # with one, nothing newer than it goes
        async with engine.begin() as conn:
            await conn.execute(text("SELECT set_config('casedesk.access_log_cutoff', :c, true)"),
                               {"c": cutoff.isoformat()})
            await conn.execute(text("DELETE FROM access_log WHERE person_id = :p"), {"p": person})
    report = await archive_closed_cases(engine, cutoff, tmp_path, 10, now, settings.audit_keys)
    assert report.access_log_deleted >= 2
    async with engine.connect() as conn:
        assert list((await conn.execute(kept, {"p": person})).scalars()) == [now]
