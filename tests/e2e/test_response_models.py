"""The response models of the case, the case page and the history event: in the OpenAPI document, true to
`domain.views`, and every real answer validates against them (they forbid unknown keys, so neither can drift)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from domain.audit import AuditEntry
from domain.model import CaseState, Office
from domain.views import HIDDEN, CaseHistory, CasePage, CaseView, HistoryEvent
from tests.helpers.desk import Desk
from tests.helpers.people import APPLICANT, AUDITOR, COORDINATOR, FUND_MEMBER, Person, officer
from tests.helpers.support import filing

SBIC = Office.SBIC
PEOPLE: tuple[Person, ...] = (APPLICANT, COORDINATOR, officer(SBIC), FUND_MEMBER, AUDITOR)


def test_the_case_view_model_has_every_field_case_view_shows() -> None:
    shown = set(CaseState.model_fields) - HIDDEN
    assert set(CaseView.model_fields) == shown | {"company", "allowed_actions", "notes", "notes_total", "as_of",
                                                  "consent_withdrawn"}


def test_the_history_event_model_has_every_field_of_a_stored_event() -> None:
    assert set(HistoryEvent.model_fields) == set(AuditEntry.model_fields) | {"redacted"}


async def test_the_openapi_document_has_the_case_the_page_and_the_history_event(http: httpx.AsyncClient) -> None:
    doc: dict[str, Any] = (await http.get("/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    assert {"CaseView", "CasePage", "CaseHistory", "HistoryEvent"} <= set(schemas)
    assert schemas["CasePage"]["properties"]["items"]["items"] == {"$ref": "#/components/schemas/CaseView"}
    assert schemas["CaseHistory"]["properties"]["events"]["items"] == {"$ref": "#/components/schemas/HistoryEvent"}

    def answer(path: str, method: str, status: str) -> Any:
        return doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]

    case = {"$ref": "#/components/schemas/CaseView"}
    assert answer("/api/cases", "post", "201") == case
    assert answer("/api/cases/{case_id}", "get", "200") == case
    assert answer("/api/cases/{case_id}/actions/{action}", "post", "200") == case
    assert answer("/api/cases", "get", "200") == {"$ref": "#/components/schemas/CasePage"}
    assert answer("/api/cases/{case_id}/history", "get", "200") == {"$ref": "#/components/schemas/CaseHistory"}


def valid(model: type[BaseModel], response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    model.model_validate_json(response.content)
    body: dict[str, Any] = response.json()
    return body


async def test_real_answers_validate_against_the_models(desk: Desk) -> None:
    """A case with every part filled in (reviews, candidates, responses, a proposal, notes), as each kind of
    caller sees it: the case, each action's answer, the list, the history, and the case as it stood."""
    http = desk.http
    filed = await http.post("/api/cases", json=filing(on_behalf_of="acme-gmbh"),
                            headers=desk.headers(COORDINATOR))
    case = valid(CaseView, filed)
    lead = officer(SBIC)
    steps: list[tuple[str, Person, dict[str, Any]]] = [
        ("relay", COORDINATOR, {"offices": [SBIC, Office.SME_SUPPORT_JAPAN]}),
        ("accept_case", lead, {"note": "ours"}),
        ("add_note", lead, {"text": "internal"}),
        ("run_matching", lead, {"limit": 5}),
    ]
    for action, person, payload in steps:
        case = valid(CaseView, await desk.act(case, action, person, **payload))
    best = case["candidates"][0]["sme_id"]
    for action, person, payload in [
        ("shortlist", lead, {"sme_ids": [best]}),
        ("record_response", lead, {"sme_id": best, "interested": True, "note": "keen"}),
        ("select_partner", lead, {"sme_ids": [best]}),
        ("propose_investment", lead, {"route": "co_investment", "amount_jpy": 1, "rationale": "why"}),
    ]:
        case = valid(CaseView, await desk.act(case, action, person, **payload))
    assert case["proposal"] and case["candidates"] and case["notes"]

    for person in PEOPLE:
        headers = desk.headers(person)
        shown = valid(CaseView, await desk.get(case, person))
        assert ("notes" in shown) == (person != APPLICANT)
        page = valid(CasePage, await http.get("/api/cases", params={"limit": 2}, headers=headers))
        assert page["items"]
        events = valid(CaseHistory, await http.get(f"/api/cases/{case['id']}/history", headers=headers))["events"]
        assert events
        past = valid(CaseView, await http.get(f"/api/cases/{case['id']}?as_of={quote(events[1]['at'])}",
                                              headers=headers))
        assert past["as_of"] and past["allowed_actions"] == []
