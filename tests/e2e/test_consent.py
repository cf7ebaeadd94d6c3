"""Issue 19, seen 1: consent is live. An SME that withdraws its consent in the registry after matching may not be
taken further by any case: no shortlist, no interested answer, no selection (422 naming it); staff see on the
case which candidates withdrew; an answer that it is not interested may still be recorded."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from api.app import create_app
from contracts.case import workflow_id
from infra.consent_tellings import untold
from infra.db import session_factory
from infra.incidents import note_failure, open_incidents
from infra.settings import Settings
from infra.startup import free_port
from infra.tables import consent_tellings, smes
from services.consent_courier import STEP, ConsentCourier
from services.context import Services
from tests.helpers.cli import alliance
from tests.helpers.desk import Desk
from tests.helpers.people import APPLICANT, AUDITOR, COORDINATOR, SBIC, officer
from tests.helpers.registry import recorded_withdrawals, registered, registry_row, set_consent
from tests.helpers.scenarios import to_matching


@asynccontextmanager
async def consent_withdrawn(desk: Desk, sme_id: str) -> AsyncIterator[None]:
    """The registry is shared by the session's tests: consent comes back afterwards."""
    sme = await registered(desk, sme_id)
    await set_consent(desk, sme, False)
    try:
        yield
    finally:
        await set_consent(desk, sme, True)
        assert await registered(desk, sme_id) == sme, "the registry entry should be as it was"


async def shortlisted_and_interested(desk: Desk) -> tuple[dict[str, Any], str, str]:
    """A case in matching: its first candidate shortlisted and interested, its second only proposed."""
    case = await to_matching(desk)
    matched = await desk.ok(case, "run_matching", officer(SBIC), limit=5)
    first, second = (c["sme_id"] for c in matched["candidates"][:2])
    await desk.ok(case, "shortlist", officer(SBIC), sme_ids=[first])
    await desk.ok(case, "record_response", officer(SBIC), sme_id=first, interested=True)
    return case, first, second


async def each_step_further_refused(desk: Desk, case: dict[str, Any], first: str, second: str, why: str) -> None:
    """Shortlisting the second, selecting the first, an interested answer of the first: each a 422 naming the
    SME and `why`."""
    steps: list[tuple[str, dict[str, Any], str]] = [
        ("shortlist", {"sme_ids": [second]}, second),
        ("select_partner", {"sme_ids": [first]}, first),
        ("record_response", {"sme_id": first, "interested": True}, first),
    ]
    for action, payload, named in steps:
        refused = await desk.act(case, action, officer(SBIC), **payload)
        assert refused.status_code == 422, refused.text
        assert why in refused.json()["detail"] and named in refused.json()["detail"], action


async def test_an_sme_that_withdrew_consent_after_matching_goes_no_further(desk: Desk) -> None:
    case, first, second = await shortlisted_and_interested(desk)
    async with consent_withdrawn(desk, second), consent_withdrawn(desk, first):
        await each_step_further_refused(desk, case, first, second, "withdrew consent")
        staff_view = (await desk.get(case, officer(SBIC))).json()
        assert staff_view["consent_withdrawn"] == [first, second]  # in candidate order: staff see why
        assert "consent_withdrawn" not in (await desk.get(case, APPLICANT)).json()
        desk.http.cookies.set("casedesk_session", desk.tokens[officer(SBIC)])
        try:
            page = (await desk.http.get(f"/cases/{case['id']}")).text
        finally:
            desk.http.cookies.clear()
        assert page.count("consent withdrawn: no further steps") == 2
        await desk.ok(case, "record_response", officer(SBIC), sme_id=first, interested=False)
    after = (await desk.get(case, officer(SBIC))).json()
    assert (after["stage"], after["shortlist"], after["partners"]) == ("matching", [first], [])
    assert after["consent_withdrawn"] == []
    assert [r["interested"] for r in after["responses"]] == [False]
    assert [e["type"] for e in await desk.history(case, officer(SBIC))].count("shortlist") == 1


async def test_a_withdrawal_is_on_the_trail_of_every_open_case_it_affects(desk: Desk) -> None:
    """Issue 19 Build 2: "the withdrawal is on the case's audit trail" — in each open case that has the SME among
    its candidates, as a system event naming it; applicants never see it (it names SMEs)."""
    one, other = await to_matching(desk), await to_matching(desk)
    first = (await desk.ok(one, "run_matching", officer(SBIC), limit=5))["candidates"][0]["sme_id"]
    assert first in [c["sme_id"] for c in (await desk.ok(other, "run_matching", officer(SBIC), limit=5))["candidates"]]
    async with consent_withdrawn(desk, first):
        for case in (one, other):
            (event,) = await recorded_withdrawals(desk, case, 1)
            assert (event["actor"]["id"], event["payload"]) == ("system", {"sme_ids": [first]})
            assert "consent_withdrawn" not in [e["type"] for e in await desk.history(case, APPLICANT)]
            assert (await desk.verify(case, COORDINATOR))["valid"]
            as_of = await desk.http.get(f"/api/cases/{case['id']}", params={"as_of": event["at"]},
                                        headers=desk.headers(AUDITOR))
            assert as_of.status_code == 200 and as_of.json()["stage"] == "matching", "the trail still rewinds"
    assert len(await recorded_withdrawals(desk, one, 2)) == 1, "consent given back is no withdrawal"


@asynccontextmanager
async def temporal_away(desk: Desk, settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The desk's API as it runs while Temporal is unreachable: its client points at a port nobody listens on."""
    away = await Client.connect(f"127.0.0.1:{free_port()}", lazy=True, data_converter=pydantic_data_converter)
    app = create_app(Services(settings, engine, session_factory(engine), away))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk") as http:
        yield http


async def test_a_withdrawal_made_while_temporal_is_away_reaches_the_case_once_it_is_back(
    desk: Desk, settings: Settings, engine: AsyncEngine, temporal: Client
) -> None:
    """Issue 19 Build 2, durably: the withdrawal is stored with what its case is to be told; the worker's courier
    tells it once Temporal answers (an incident meanwhile), and a withdrawal told twice is recorded once."""
    case = await to_matching(desk)
    sme_id = (await desk.ok(case, "run_matching", officer(SBIC), limit=5))["candidates"][0]["sme_id"]
    sme = await registered(desk, sme_id)
    async with temporal_away(desk, settings, engine) as away:
        await set_consent(desk, sme, False, away)
    try:
        async with engine.connect() as conn:
            (row,) = (await conn.execute(select(consent_tellings).where(
                consent_tellings.c.case_id == case["id"], consent_tellings.c.done_at.is_(None)))).mappings().all()
        assert row["sme_id"] == sme_id, "the consent is withdrawn, and what its case is to be told is kept"
        assert "consent_withdrawn" not in [e["type"] for e in await desk.history(case, COORDINATOR)]

        still_away = await Client.connect(f"127.0.0.1:{free_port()}", lazy=True, data_converter=pydantic_data_converter)
        later = datetime.now(UTC) + timedelta(hours=1)
        assert await ConsentCourier(engine, still_away, clock=lambda: later).tell_due([row["id"]]) == 0
        (incident,) = await open_incidents(engine, case["id"])
        assert (incident.step, incident.kind) == (STEP, "undelivered")
        assert sme_id in incident.error

        back = ConsentCourier(engine, temporal, clock=lambda: later + timedelta(hours=1), idle_seconds=0.1)
        async with back.running():  # as every worker runs it
            (event,) = await recorded_withdrawals(desk, case, 1)
            for _ in range(100):  # the courier marks it told, and resolves the incident, just after the signal
                if not await untold(engine, [row["id"]]) and not await open_incidents(engine, case["id"]):
                    break
                await asyncio.sleep(0.1)
        assert (event["actor"]["id"], event["payload"]) == ("system", {"sme_ids": [sme_id]})
        assert await untold(engine, [row["id"]]) == 0 and await open_incidents(engine, case["id"]) == []
        refused = await desk.act(case, "shortlist", officer(SBIC), sme_ids=[sme_id])
        assert refused.status_code == 422 and sme_id in refused.json()["detail"], refused.text

        async with engine.begin() as conn:  # a worker died between the signal and marking it told
            await conn.execute(update(consent_tellings).where(consent_tellings.c.id == row["id"])
                               .values(done_at=None))
        assert await back.tell_due([row["id"]]) == 1
        await desk.ok(case, "add_note", officer(SBIC), text="after the second telling")
        types = [e["type"] for e in await desk.history(case, COORDINATOR)]
        assert types.count("consent_withdrawn") == 1 and types[-1] == "add_note"
    finally:
        await set_consent(desk, sme, True)


async def test_the_import_command_keeps_what_it_could_not_tell_and_says_so(
    desk: Desk, engine: AsyncEngine, tmp_path: Path
) -> None:
    """`alliance smes import` with Temporal away: the consent is withdrawn, exit 0, and one line says the worker
    tells the cases later; the rows to tell are there for it."""
    case = await to_matching(desk)
    sme_id = (await desk.ok(case, "run_matching", officer(SBIC), limit=5))["candidates"][0]["sme_id"]
    sme = await registered(desk, sme_id)
    file = tmp_path / "registry.csv"
    file.write_text(registry_row(sme, consent=False), encoding="utf-8")
    try:
        done = await asyncio.to_thread(alliance, engine, "smes", "import", str(file),
                                       temporal=f"127.0.0.1:{free_port()}")
        assert done.returncode == 0, done.stderr
        assert "withdrew their consent: 0 of" in done.stderr and "the worker tells them" in done.stderr
        async with engine.connect() as conn:
            assert (await conn.execute(select(consent_tellings.c.sme_id).where(
                consent_tellings.c.case_id == case["id"], consent_tellings.c.done_at.is_(None)))).scalars().all() \
                == [sme_id]
    finally:
        await set_consent(desk, sme, True)


async def test_a_withdrawal_for_a_case_that_closed_meanwhile_or_is_unknown_needs_no_telling(
    desk: Desk, engine: AsyncEngine, temporal: Client
) -> None:
    case = await to_matching(desk)
    await desk.ok(case, "withdraw", APPLICANT, reason="strategy")
    await temporal.get_workflow_handle(workflow_id(case["id"])).result()  # its workflow has ended
    now = datetime.now(UTC)
    rows = {str(uuid.uuid4()): case_id for case_id in (case["id"], str(uuid.uuid4()))}
    async with engine.begin() as conn:
        await conn.execute(insert(consent_tellings), [
            {"id": row, "case_id": case_id, "sme_id": "1010001000006", "withdrawn_at": now, "next_attempt_at": now}
            for row, case_id in rows.items()])
    courier = ConsentCourier(engine, temporal, incident_after=timedelta(0))
    assert await courier.tell_due(list(rows)) == 2
    async with engine.connect() as conn:
        done = dict((await conn.execute(select(consent_tellings.c.case_id, consent_tellings.c.outcome)
                                        .where(consent_tellings.c.id.in_(list(rows))))).all())
    assert done == {case["id"]: "closed", rows.popitem()[1]: "unknown"}
    assert await open_incidents(engine, case["id"]) == []


async def test_the_incident_stays_open_while_another_withdrawal_of_its_case_is_untold(
    desk: Desk, engine: AsyncEngine, temporal: Client
) -> None:
    """One incident per case stands for all its untold withdrawals: telling one of two must not resolve it."""
    case = await to_matching(desk)
    now = datetime.now(UTC)
    told_now, later = str(uuid.uuid4()), str(uuid.uuid4())
    async with engine.begin() as conn:
        await conn.execute(insert(consent_tellings), [
            {"id": told_now, "case_id": case["id"], "sme_id": "1010001000006", "withdrawn_at": now - timedelta(hours=1),
             "next_attempt_at": now},
            {"id": later, "case_id": case["id"], "sme_id": "1010001000014", "withdrawn_at": now - timedelta(hours=1),
             "next_attempt_at": now + timedelta(minutes=10)}])  # failed before: its next try is later
    await note_failure(engine, workflow_id(case["id"]), STEP, "undelivered", 3, "Temporal did not answer")
    assert await ConsentCourier(engine, temporal).tell_due([told_now, later]) == 1
    (incident,) = await open_incidents(engine, case["id"])
    assert incident.step == STEP, "the other withdrawal is still untold"
    later_on = ConsentCourier(engine, temporal, clock=lambda: now + timedelta(minutes=11))
    assert await later_on.tell_due([later]) == 1
    assert await open_incidents(engine, case["id"]) == []


@asynccontextmanager
async def closed(engine: AsyncEngine, sme_id: str) -> AsyncIterator[None]:
    """The SME closed as the NTA import records it (a closing date and the NTA's cause); open again afterwards."""
    async with engine.begin() as conn:
        closing = update(smes).where(smes.c.id == sme_id).values(closed_on=date(2026, 11, 1), close_cause="01")
        await conn.execute(closing)
    try:
        yield
    finally:
        async with engine.begin() as conn:
            await conn.execute(update(smes).where(smes.c.id == sme_id).values(closed_on=None, close_cause=None))


async def test_a_company_closed_after_matching_is_neither_shortlisted_nor_selected(
    desk: Desk, engine: AsyncEngine
) -> None:
    case, first, second = await shortlisted_and_interested(desk)
    async with closed(engine, second), closed(engine, first):
        await each_step_further_refused(desk, case, first, second, "closed in the corporate-number registry")
    await desk.ok(case, "select_partner", officer(SBIC), sme_ids=[first])  # open again: a partner as before
