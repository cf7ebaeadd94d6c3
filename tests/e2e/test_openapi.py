"""The OpenAPI document: an example for every action that the rules accept, problems documented."""

from __future__ import annotations

from typing import Any

import httpx

from api.examples import ACTION_EXAMPLES
from domain.model import Action
from domain.payloads import parse_payload
from domain.text_rules import ONE_LINE_PATTERN


def test_every_action_has_an_example_the_rules_accept() -> None:
    assert set(ACTION_EXAMPLES) == set(Action)
    for action, example in ACTION_EXAMPLES.items():
        parse_payload(action, example)  # raises if the documentation drifted from the payload model


async def test_the_document_lists_every_action_and_its_problems(http: httpx.AsyncClient) -> None:
    response = await http.get("/openapi.json")
    assert response.status_code == 200
    doc: dict[str, Any] = response.json()
    operation = doc["paths"]["/api/cases/{case_id}/actions/{action}"]["post"]
    examples = operation["requestBody"]["content"]["application/json"]["examples"]
    assert set(examples) == {a.value for a in Action}
    action_param = next(p for p in operation["parameters"] if p["name"] == "action")
    assert set(action_param["schema"]["enum"]) == {a.value for a in Action}
    for status in ("401", "403", "404", "409", "422"):
        assert "application/problem+json" in operation["responses"][status]["content"]
    assert "ProblemDocument" in doc["components"]["schemas"]
    assert (await http.get("/docs")).status_code == 200


async def test_every_search_text_states_its_length_and_pattern(http: httpx.AsyncClient) -> None:
    """`q` and `technology` say in the document what the door accepts: at most 200 characters, one line without
    control characters (`domain.text_rules.ONE_LINE_PATTERN`)."""
    doc: dict[str, Any] = (await http.get("/openapi.json")).json()
    searches = {(path, p["name"]): p for path, item in doc["paths"].items() for p in item.get("get", {}).get(
        "parameters", []) if p["name"] in ("q", "technology")}
    assert set(searches) == {("/api/cases", "q"), ("/api/work", "q"), ("/api/smes", "q"), ("/api/smes", "technology")}
    for where, parameter in searches.items():
        text = next(s for s in parameter["schema"].get("anyOf", [parameter["schema"]]) if s.get("type") == "string")
        assert (text.get("maxLength"), parameter["schema"].get("pattern") or text.get("pattern")) == (
            200, ONE_LINE_PATTERN), where
