"""Bulk reassignment over HTTP (issue 21): who a person is, a case in their work, a job started and waited for."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.helpers.desk import Desk
from tests.helpers.people import APPLICANT, COORDINATOR, SBIC, Person

WAIT = 60.0


async def user_id(desk: Desk, person: Person) -> str:
    response = await desk.http.get("/api/me", headers=desk.headers(person))
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def accepted_by(desk: Desk, person: Person, *offices: str) -> dict[str, Any]:
    case = await desk.file(APPLICANT)
    await desk.ok(case, "relay", COORDINATOR, offices=list(offices or [SBIC]))
    return await desk.ok(case, "accept_case", person)


async def start(desk: Desk, by: Person, leaving: Person, taking_over: Person, **wanted: Any) -> Any:
    body = {"from": await user_id(desk, leaving), "to": await user_id(desk, taking_over), "filter": wanted}
    return await desk.http.post("/api/work/reassign", json=body, headers=desk.headers(by))


async def finished(desk: Desk, location: str, person: Person, minimum: int = 0) -> dict[str, Any]:
    """The job once it is done (or, with `minimum`, once that many of its cases are)."""
    async with asyncio.timeout(WAIT):
        while True:
            response = await desk.http.get(location, headers=desk.headers(person))
            assert response.status_code == 200, response.text
            job: dict[str, Any] = response.json()
            if (job["done"] >= minimum) if minimum else job["status"] == "done":
                return job
            await asyncio.sleep(0.1)
