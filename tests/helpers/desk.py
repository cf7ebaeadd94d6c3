"""A case officer's-eye client for tests: act as a demo person, take actions, read cases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.helpers.people import Person
from tests.helpers.support import filing


@dataclass
class Desk:
    http: httpx.AsyncClient
    tokens: dict[Person, str]

    def headers(self, person: Person) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[person]}"}

    async def file(self, person: Person, **overrides: Any) -> dict[str, Any]:
        response = await self.http.post("/api/cases", json=filing(**overrides), headers=self.headers(person))
        assert response.status_code == 201, response.text
        case: dict[str, Any] = response.json()
        return case

    async def act(self, case: dict[str, Any] | str, action: str, person: Person, **payload: Any) -> httpx.Response:
        case_id = case if isinstance(case, str) else case["id"]
        return await self.http.post(
            f"/api/cases/{case_id}/actions/{action}", json=payload, headers=self.headers(person)
        )

    async def ok(self, case: dict[str, Any] | str, action: str, person: Person, **payload: Any) -> dict[str, Any]:
        response = await self.act(case, action, person, **payload)
        assert response.status_code == 200, f"{action}: {response.status_code} {response.text}"
        updated: dict[str, Any] = response.json()
        return updated

    async def get(self, case: dict[str, Any] | str, person: Person) -> httpx.Response:
        case_id = case if isinstance(case, str) else case["id"]
        return await self.http.get(f"/api/cases/{case_id}", headers=self.headers(person))

    async def history(self, case: dict[str, Any] | str, person: Person) -> list[dict[str, Any]]:
        case_id = case if isinstance(case, str) else case["id"]
        response = await self.http.get(f"/api/cases/{case_id}/history", headers=self.headers(person))
        assert response.status_code == 200, response.text
        events: list[dict[str, Any]] = response.json()["events"]
        return events

    async def verify(self, case: dict[str, Any] | str, person: Person) -> dict[str, Any]:
        """`GET /api/cases/{id}/history/verify` as `person`: the chain report (asserting a 200)."""
        case_id = case if isinstance(case, str) else case["id"]
        response = await self.http.get(f"/api/cases/{case_id}/history/verify", headers=self.headers(person))
        assert response.status_code == 200, response.text
        report: dict[str, Any] = response.json()
        return report
