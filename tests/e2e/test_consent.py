"""Issue 19, seen 1: consent is live. An SME that withdraws its consent in the registry after matching may not be
taken further by any case: no shortlist, no interested answer, no selection (422 naming it); staff see on the
case which candidates withdrew; an answer that it is not interested may still be recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from domain.model import Office
from domain.sme_registry import COLUMNS
from tests.helpers.desk import Desk
from tests.helpers.people import APPLICANT, COORDINATOR, SBIC, manager, officer
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


async def test_an_sme_that_withdrew_consent_after_matching_goes_no_further(desk: Desk) -> None:
    case = await to_matching(desk)
    matched = await desk.ok(case, "run_matching", officer(SBIC), limit=5)
    first, second = (c["sme_id"] for c in matched["candidates"][:2])
    await desk.ok(case, "shortlist", officer(SBIC), sme_ids=[first])
    await desk.ok(case, "record_response", officer(SBIC), sme_id=first, interested=True)
    async with consent_withdrawn(desk, second), consent_withdrawn(desk, first):
        for action, payload, named in [("shortlist", {"sme_ids": [second]}, second),
                                       ("select_partner", {"sme_ids": [first]}, first),
                                       ("record_response", {"sme_id": first, "interested": True}, first)]:
            refused = await desk.act(case, action, officer(SBIC), **payload)
            assert refused.status_code == 422, refused.text
            assert "withdrew consent" in refused.json()["detail"] and named in refused.json()["detail"], action
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
