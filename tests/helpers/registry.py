"""The SME registry as an office manager keeps it in tests: read an SME's entry, import its row again changed."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from domain.model import Office
from domain.sme_registry import COLUMNS
from tests.helpers.desk import Desk
from tests.helpers.people import COORDINATOR, manager


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


def registry_row(sme: dict[str, Any], *, consent: bool) -> str:
    """A registry CSV of the SME's whole entry (as `GET /api/smes` shows it) with its consent as given."""
    cells = {**sme, "updated": sme["updated_at"], "consent": consent}
    return ",".join(COLUMNS) + "\n" + ",".join(cell(cells[c]) for c in COLUMNS) + "\n"


async def set_consent(desk: Desk, sme: dict[str, Any], consent: bool, http: httpx.AsyncClient | None = None) -> None:
    """As an office manager keeping the registry: import the SME's whole row again with its consent changed
    (through `http`, another app, when given)."""
    body = registry_row(sme, consent=consent)
    response = await (http or desk.http).post(
        "/api/smes/import", content=body.encode(),
        headers={**desk.headers(manager(Office.SBIC)), "content-type": "text/csv"},
    )
    assert response.status_code == 200, response.text


async def recorded_withdrawals(desk: Desk, case: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """The case's `consent_withdrawn` events, once there are `count` (the workflow records them when told)."""
    for _ in range(100):
        found = [e for e in await desk.history(case, COORDINATOR) if e["type"] == "consent_withdrawn"]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.1)
    return found
