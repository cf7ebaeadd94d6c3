"""Property-based tests of the whole HTTP API against its own OpenAPI document (schemathesis).

A real `alliance run` answers; every operation is fuzzed with a fixed seed and a bounded number of
examples, as a coordinator (who may see every case), with valid inputs (positive mode) and with inputs invalid
on purpose (negative mode). Every answer must be a documented status with a documented content type and body,
and never a 5xx; an input the schema forbids must be refused with a 4xx.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis.errors import Unsatisfiable
from jsonschema_rs import Draft202012Validator
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import negated_parameters
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from domain.model import Role
from infra.startup import free_port
from infra.users import DEMO_USERS, demo_token

pytestmark = [pytest.mark.slow, pytest.mark.long]
PEPPER = "schemathesis-pepper"
CHECKS = (not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance)


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`alliance run` on free ports in a folder of its own; its base URL."""
    folder = tmp_path_factory.mktemp("live")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("DATABASE_", "TEMPORAL_", "SMTP_"))}
    api_port = free_port()
    env.update(DATA_DIR=str(folder / "data"), API_PORT=str(api_port), TEMPORAL_PORT=str(free_port()),
               TEMPORAL_UI_PORT=str(free_port()), EMBEDDED_POSTGRES_PORT=str(free_port()),
               SMTP_PORT=str(free_port()), TOKEN_PEPPER=PEPPER, LOG_LEVEL="WARNING")
    env.pop("TEST_DATABASE_URL", None)
    with (folder / "run.log").open("wb") as log:
        process = subprocess.Popen([str(Path(sys.executable).parent / "alliance"), "run"], stdout=log, stderr=log,
                                   stdin=subprocess.DEVNULL, env=env, cwd=folder, start_new_session=True)
    base = f"http://127.0.0.1:{api_port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        else:
            pytest.fail(f"alliance run did not come up: {(folder / 'run.log').read_text()[-2000:]}")
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


COORDINATOR_TOKEN = demo_token(next(u for u in DEMO_USERS if u.role == Role.COORDINATOR), PEPPER)


def on_the_wire(value: Any) -> list[str]:
    """A query parameter's value as the client sends it: strings, one per repeated value."""
    if isinstance(value, list):
        return [text for item in value for text in on_the_wire(item)]
    if value is None:
        return ["null"]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    return [str(value)]


def arrives_valid(case: Any, schemas: dict[str, dict[str, Any]], components: dict[str, Any]) -> bool:
    """Whether a negative case reaches the API as a valid request after all: each parameter it mutated is either
    the Authorization header (which every call sends right) or a query parameter whose values, as the strings the
    client sends, meet its schema (a JSON null or a number in the query arrives as the text "null" or "7"). A list
    sent as the parameter repeated never arrives valid: the API refuses a parameter given twice."""
    mutated = list(negated_parameters(case._meta))
    if not mutated:
        return False
    for name, location in mutated:
        if location == ParameterLocation.HEADER and name.lower() == "authorization":
            continue
        if location != ParameterLocation.QUERY or name not in schemas or name not in (case.query or {}):
            return False
        if len(on_the_wire(case.query[name])) > 1:  # sent repeated: no parameter takes a list (refused)
            return False
        validator = Draft202012Validator({**schemas[name], "components": components}, validate_formats=True)
        if not all(any(validator.is_valid(form) for form in read_as(text)) for text in on_the_wire(case.query[name])):
            return False
    return True


def query_schemas(document: dict[str, Any], operation: Any) -> dict[str, dict[str, Any]]:
    """The operation's query parameters and their schemas, as its OpenAPI document gives them."""
    return {parameter["name"]: parameter.get("schema", {})
            for parameter in document["paths"][operation.path][operation.method.lower()].get("parameters", [])
            if parameter["in"] == "query"}


def read_as(text: str) -> list[Any]:
    """What the API may read a query string as: the text itself, or the JSON value it spells ("7", "false")."""
    try:
        return [text, json.loads(text)]
    except ValueError:
        return [text]


def fuzz(live_api: str, mode: GenerationMode, checks: tuple[Any, ...]) -> int:
    """Every operation called with `mode` inputs as the coordinator, each answer held to `checks`; the calls made."""
    # Driven through hypothesis directly: schemathesis' own pytest plugin does not support pytest 9 yet.
    document = httpx.get(f"{live_api}/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_url(f"{live_api}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 5
    calls = 0
    components = document.get("components", {})
    for operation in operations:
        vanished = 0

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=30, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None, phases=[Phase.explicit, Phase.generate])  # no shrinking: fail fast
        def call(case: Any) -> None:
            nonlocal calls, vanished
            # A query parameter without a name is never sent (the client drops it), so such a "negative" case
            # arrives as a valid request: not a refusal the API could give.
            assume("" not in (case.query or {}))
            # Nor is one whose only faults vanish on the way (see `arrives_valid`): the API rightly accepts it.
            negative = mode == GenerationMode.NEGATIVE
            if negative and arrives_valid(case, query_schemas(document, case.operation), components):
                vanished += 1
                assume(False)
            calls += 1
            case.call_and_validate(headers={"Authorization": f"Bearer {COORDINATOR_TOKEN}"}, checks=checks,
                                   timeout=30)

        try:
            call()
        except Unsatisfiable:
            # Nothing about this operation can be sent wrong: it has no parameters and no body, or every wrong
            # thing generated for it vanished on the way (an unconstrained path text beside the token we send).
            assert mode == GenerationMode.NEGATIVE, operation.label
            assert vanished or (not list(operation.iter_parameters())
                                and not operation.get_request_payload_content_types()), operation.label
    return calls


def test_no_operation_answers_a_5xx_or_off_its_schema(live_api: str) -> None:
    assert fuzz(live_api, GenerationMode.POSITIVE, CHECKS) >= 300


def test_invalid_inputs_on_purpose_get_a_documented_4xx_never_a_5xx(live_api: str) -> None:
    """Negative mode: every operation sent what its schema forbids (wrong types, out of bounds, too long, bad
    patterns and enums, in body, query, path and headers) must refuse it with a documented 4xx."""
    assert fuzz(live_api, GenerationMode.NEGATIVE, (*CHECKS, negative_data_rejection)) >= 100
