"""Every error is a problem document: unknown routes and methods, bad JSON, oversized bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from domain.model import Role
from infra.settings import Settings
from tests.helpers.people import APPLICANT, COORDINATOR
from tests.helpers.support import filing


def auth(tokens: dict[tuple[Role, str], str], person: tuple[Role, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[person]}"}


async def test_unknown_routes_and_methods_are_problems(
    http: httpx.AsyncClient, tokens: dict[tuple[Role, str], str]
) -> None:
    for method, path, status in [("GET", "/nowhere", 404), ("DELETE", "/api/cases", 405), ("PUT", "/health", 405)]:
        response = await http.request(method, path, headers=auth(tokens, COORDINATOR))
        assert response.status_code == status, (method, path)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == status


async def test_malformed_and_invalid_filings_say_what_is_wrong_and_file_nothing(
    http: httpx.AsyncClient, tokens: dict[tuple[Role, str], str]
) -> None:
    before = (await http.get("/api/cases?limit=200", headers=auth(tokens, APPLICANT))).json()["items"]
    headers = {**auth(tokens, APPLICANT), "content-type": "application/json"}
    broken = await http.post("/api/cases", content=b"{not json", headers=headers)
    assert broken.status_code == 422 and broken.headers["content-type"] == "application/problem+json"
    wrong = filing(ticket_jpy={"min": 1, "max": 0}, seeking={"technologies": [], "alliance_types": ["merger"]})
    invalid = await http.post("/api/cases", json=wrong, headers=headers)
    assert invalid.status_code == 422
    where = {".".join(str(p) for p in e["loc"]) for e in invalid.json()["errors"]}
    assert {"body.ticket_jpy.max", "body.seeking.technologies", "body.seeking.alliance_types.0"} <= where
    after = (await http.get("/api/cases?limit=200", headers=auth(tokens, APPLICANT))).json()["items"]
    assert len(after) == len(before)


async def test_a_body_over_the_limit_is_refused_with_413(
    http: httpx.AsyncClient, tokens: dict[tuple[Role, str], str], settings: Settings
) -> None:
    huge = filing(offers="x" * (settings.max_body_bytes + 1))
    response = await http.post("/api/cases", json=huge, headers=auth(tokens, APPLICANT))
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert str(settings.max_body_bytes) in response.json()["detail"]


async def test_only_applicants_and_coordinators_file(
    http: httpx.AsyncClient, tokens: dict[tuple[Role, str], str]
) -> None:
    for person in tokens:
        response = await http.post("/api/cases", json=filing(on_behalf_of="acme-gmbh"), headers=auth(tokens, person))
        assert response.status_code == (201 if person[0] in (Role.APPLICANT, Role.COORDINATOR) else 403), person


async def test_nul_characters_are_refused_everywhere_a_person_types(
    http: httpx.AsyncClient, tokens: dict[tuple[Role, str], str]
) -> None:
    bad = filing(offers="channels\u0000in the EU")
    filed = await http.post("/api/cases", json=bad, headers=auth(tokens, APPLICANT))
    assert filed.status_code == 422 and "NUL" in filed.json()["detail"]
    case = (await http.post("/api/cases", json=filing(), headers=auth(tokens, APPLICANT))).json()
    noted = await http.post(f"/api/cases/{case['id']}/actions/request_info", json={"questions": ["a\u0000b"]},
                            headers=auth(tokens, COORDINATOR))
    assert noted.status_code == 422 and "NUL" in noted.json()["detail"]
    searched = await http.get("/api/cases?q=a%00b", headers=auth(tokens, COORDINATOR))
    assert searched.status_code == 422
    history = (await http.get(f"/api/cases/{case['id']}/history", headers=auth(tokens, COORDINATOR))).json()
    assert [e["type"] for e in history["events"]] == ["filed"]


async def test_a_chunked_body_over_the_limit_is_refused_with_413_too(
    http: httpx.AsyncClient, tokens: dict[tuple[Role, str], str], settings: Settings
) -> None:
    """A body sent in chunks has no Content-Length: its size shows only as it is read, inside the route."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"offers": "'
        for _ in range(settings.max_body_bytes // 8192 + 2):
            yield b"x" * 8192
        yield b'"}'

    headers = {**auth(tokens, APPLICANT), "content-type": "application/json"}
    before = (await http.get("/api/cases?limit=200", headers=auth(tokens, APPLICANT))).json()["items"]
    response = await http.post("/api/cases", content=chunks(), headers=headers)
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert str(settings.max_body_bytes) in response.json()["detail"]
    after = (await http.get("/api/cases?limit=200", headers=auth(tokens, APPLICANT))).json()["items"]
    assert len(after) == len(before)


async def test_a_body_that_is_not_utf8_is_422_like_bad_json(
    http: httpx.AsyncClient, tokens: dict[tuple[Role, str], str]
) -> None:
    headers = {**auth(tokens, APPLICANT), "content-type": "application/json"}
    response = await http.post("/api/cases", content=b'0$\xff\x0b\xe9vM', headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["loc"] == ["body"]
