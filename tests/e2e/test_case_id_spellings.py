"""A case id in a path is the canonical spelling the desk gives out (lowercase, hyphenated) or no case at all: the
other spellings Python's `uuid.UUID` or PostgreSQL's `uuid` accept (braces, `urn:uuid:`, capitals, no hyphens)
and strings that are no id (40 characters, Japanese, NUL) are 404 on every `/api/cases/{case_id}/…` route, never a
500 and never the case under another name."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest

from tests.helpers.desk import Desk
from tests.helpers.people import ADMIN, APPLICANT, AUDITOR

SPELLINGS = [
    "{{{id}}}", "urn:uuid:{id}", "{upper}", "{hex}", "{{{hex}}}", "urn:uuid:{upper}", " {id}", "{id} ", "{id}\n",
    "a" * 40, "事例の番号", "%00", "{id}%00", "%00{id}", "{id}x",
]


def spelled(spelling: str, case_id: str) -> str:
    text = spelling.format(id=case_id, upper=case_id.upper(), hex=uuid.UUID(case_id).hex)
    return text if "%" in text else quote(text, safe="")


@pytest.mark.parametrize("spelling", SPELLINGS)
async def test_a_case_id_not_spelled_as_the_desk_gives_it_names_no_case(desk: Desk, spelling: str) -> None:
    case = await desk.file(APPLICANT)
    assert case["id"] == str(uuid.UUID(case["id"]))
    schema = (await desk.http.get("/openapi.json")).json()
    routes = {path: methods for path, methods in schema["paths"].items() if path.startswith("/api/cases/{case_id}")}
    assert len(routes) >= 6
    for route, methods in routes.items():
        path = route.replace("{case_id}", spelled(spelling, case["id"])).replace("{action}", "add_note")
        for method in methods:
            answer = await desk.http.request(method, path, json={"note": "n"}, headers=desk.headers(AUDITOR))
            assert answer.status_code in (404, 422), f"{method} {path}: {answer.status_code} {answer.text[:300]}"
            assert answer.headers["content-type"].startswith("application/problem+json"), f"{method} {path}"
            if answer.status_code == 422:
                assert any(e["loc"][:2] == ["path", "case_id"] for e in answer.json()["errors"]), answer.text
        console = await desk.http.get(f"/cases/{spelled(spelling, case['id'])}", headers=desk.headers(AUDITOR))
        assert console.status_code in (303, 401, 404, 422), console.status_code


QUERY_SPELLINGS = ["{{{id}}}", "urn:uuid:{id}", "{upper}", "{hex}", " {id}", "{id}x", "事例の番号"]


@pytest.mark.parametrize("spelling", QUERY_SPELLINGS)
async def test_a_query_parameter_naming_a_case_takes_only_the_desks_spelling(desk: Desk, spelling: str) -> None:
    """`?case=` on the audit export and the outbox took any spelling `uuid.UUID` reads and answered with that case's
    rows; like the access log's `?case=`, each is a 422 problem naming `case`."""
    case = await desk.file(APPLICANT)
    text = spelling.format(id=case["id"], upper=case["id"].upper(), hex=uuid.UUID(case["id"]).hex)
    for path, who in (("/api/audit/export", AUDITOR), ("/api/operations/mail", ADMIN), ("/api/audit/access", AUDITOR)):
        answer = await desk.http.get(path, params={"case": text}, headers=desk.headers(who))
        assert answer.status_code == 422, f"{path}?case={text!r}: {answer.status_code} {answer.text[:300]}"
        assert answer.headers["content-type"].startswith("application/problem+json"), path
        assert "case" in answer.text, answer.text
    for path, who in (("/api/audit/export", AUDITOR), ("/api/operations/mail", ADMIN)):
        assert (await desk.http.get(path, params={"case": case["id"]}, headers=desk.headers(who))).status_code == 200
