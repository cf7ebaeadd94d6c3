"""Issue 19, seen 1: consent is live. An SME that withdraws its consent in the registry after matching may not be
taken further by any case: no shortlist, no interested answer, no selection (422 naming it); staff see on the
case which candidates withdrew; an answer that it is not interested may still be recorded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.model import Office
from domain.sme_registry import COLUMNS
from infra.tables import smes
from tests.helpers.desk import Desk
from tests.helpers.people import APPLICANT, AUDITOR, COORDINATOR, SBIC, manager, officer
from tests.helpers.scenarios import to_matching


async def registered(desk: Desk, sme_id: str) -> dict[str, Any]:
    response = await desk.http.get("/api/smes", params={"q": sme_id}, headers=desk.headers(COORDINATOR))
    assert response.status_code == 200, response.text
    (found,) = response.json()["items"]
    return dict(found)


def cell(value: Any) -> str:
    if isinstance(value, list):
        value = ";".join(value)
    elif isinstance(value, bool):
        value = "yes" if value else "no"
    return '"' + str("" if value is None else value).replace('"', '""') + '"'


async def set_consent(desk: Desk, sme: dict[str, Any], consent: bool) -> None:
    """As an office manager keeping the registry: import the SME's whole row again with its consent changed."""
    cells = {**sme, "updated": sme["updated_at"], "consent": consent}
    body = ",".join(COLUMNS) + "\n" + ",".join(cell(cells[c]) for c in COLUMNS) + "\n"
    response = await desk.http.post("/api/smes/import", content=body.encode(),
                                    headers={**desk.headers(manager(Office.SBIC)), "content-type": "text/csv"})
    assert response.status_code == 200, response.text


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


async def recorded_withdrawals(desk: Desk, case: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """The case's `consent_withdrawn` events, once there are `count` (the workflow records them when told)."""
    for _ in range(100):
        found = [e for e in await desk.history(case, COORDINATOR) if e["type"] == "consent_withdrawn"]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.1)
    return found


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
