"""Observability: Prometheus `/metrics` on the API, the worker's Temporal SDK metrics, one trace from the API
through the workflow to its activity, and JSON log lines that name the request, case, workflow and run."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import random
import socket
import string
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import structlog
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from domain.model import Office, Role, Stage
from infra.logging import configure_logging
from infra.observability import setup_tracing, worker_runtime
from infra.settings import Settings
from infra.sme_registry import seed_demo_smes
from infra.startup import StartupError, free_port
from infra.tables import cases
from infra.temporal import connect
from services.context import Services
from tests.helpers.desk import Desk
from tests.helpers.mail import MailSink
from tests.helpers.people import APPLICANT, COORDINATOR
from tests.helpers.support import filing
from workers.case_worker import build_worker

SJ = Office.SME_SUPPORT_JAPAN


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(text) for s in family.samples]


def value(text: str, name: str, **labels: str) -> float:
    return sum(v for n, found, v in samples(text) if n == name and labels.items() <= found.items())


async def scrape(http: httpx.AsyncClient) -> str:
    response = await http.get("/metrics")  # no token: like /health
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_metrics_time_requests_by_route_template_and_count_cases_by_stage(desk: Desk) -> None:
    case = await desk.file(APPLICANT)
    await desk.ok(case, "relay", COORDINATOR, offices=[SJ])

    text = await scrape(desk.http)
    count = "casedesk_http_request_duration_seconds_count"
    assert value(text, count, method="POST", route="/api/cases", status="201") >= 1
    action_route = "/api/cases/{case_id}/actions/{action}"
    assert value(text, count, method="POST", route=action_route, status="200") >= 1
    assert case["id"] not in text  # ids never become labels
    assert value(text, "casedesk_cases", stage="office_review") >= 1


async def test_unrouted_requests_share_one_label(desk: Desk) -> None:
    await desk.http.get("/no/such/place/123")
    text = await scrape(desk.http)
    assert value(text, "casedesk_http_request_duration_seconds_count", route="unmatched", status="404") >= 1
    assert "/no/such/place" not in text


async def test_case_gauges_equal_a_direct_count(desk: Desk, sessions: async_sessionmaker[AsyncSession]) -> None:
    await desk.file(APPLICANT)
    text = await scrape(desk.http)
    open_case = cases.c.stage != Stage.CLOSED.value
    async with sessions() as session:
        rows = (await session.execute(select(cases.c.stage, func.count()).group_by(cases.c.stage))).all()
        overdue = await session.scalar(select(func.count()).where(cases.c.overdue, open_case))
        level = {n: await session.scalar(select(func.count()).where(cases.c.escalation_level == n, open_case))
                 for n in (1, 2)}
    by_stage: dict[str, int] = {stage: count for stage, count in rows}
    for stage in Stage:
        assert value(text, "casedesk_cases", stage=stage.value) == by_stage.get(stage.value, 0), stage
    assert value(text, "casedesk_cases_overdue") == overdue
    assert value(text, "casedesk_cases_escalated", level="1") == level[1]
    assert value(text, "casedesk_cases_escalated", level="2") == level[2]


def on(env: WorkflowEnvironment, settings: Settings, **update: Any) -> Settings:
    """The test settings, pointed at this test's Temporal server."""
    address = env.client.service_client.config.target_host
    return settings.model_copy(update={"temporal_address": address, **update})


async def test_one_request_is_one_trace_through_the_workflow_and_its_activity(
    env: WorkflowEnvironment, settings: Settings, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession],
    tokens: dict[tuple[Role, str], str], mail_sink: MailSink,
) -> None:
    exporter = InMemorySpanExporter()
    tracing = setup_tracing(settings, exporter)
    assert tracing is not None
    client = await connect(on(env, settings), tracing=tracing)
    app = create_app(Services(settings, engine, sessions, client), tracing=tracing)
    async with (
        build_worker(client, settings.temporal_task_queue, engine, keys=settings.audit_keys),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk") as http,
    ):
        await seed_demo_smes(engine)
        case = await Desk(http, tokens).file(APPLICANT)
    tracing.provider.force_flush()

    spans = exporter.get_finished_spans()
    request = next(s for s in spans if s.kind == SpanKind.SERVER and s.name == "POST /api/cases")
    assert request.attributes is not None and request.attributes["http.route"] == "/api/cases"
    in_trace = [s for s in spans if s.context is not None and s.context.trace_id == request.context.trace_id]
    names = {s.name for s in in_trace}
    assert {"StartUpdateWithStartWorkflow:Case", "RunWorkflow:Case", "RunActivity:record_case_event"} <= names, names
    parent_of = {s.context.span_id: s.parent.span_id for s in in_trace if s.context is not None and s.parent}
    span_id = next(s.context.span_id for s in in_trace if s.name.startswith("RunActivity") and s.context)
    while span_id in parent_of:  # activity → workflow's StartActivity → Temporal client call → … → the request
        span_id = parent_of[span_id]
    assert span_id == request.context.span_id
    activity = next(s for s in in_trace if s.name == "RunActivity:record_case_event")
    assert activity.attributes is not None and activity.attributes["temporalWorkflowID"] == f"case-{case['id']}"


def test_tracing_and_worker_metrics_are_off_unless_configured(settings: Settings) -> None:
    unset = settings.model_copy(update={"otel_exporter_otlp_endpoint": None, "worker_metrics_address": None})
    assert setup_tracing(unset) is None
    assert worker_runtime(unset) is None


def test_a_taken_worker_metrics_port_is_a_startup_error_naming_the_setting(settings: Settings) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(StartupError, match="WORKER_METRICS_ADDRESS"):
            worker_runtime(settings.model_copy(update={"worker_metrics_address": address}))


async def test_the_worker_serves_the_temporal_sdk_metrics(
    env: WorkflowEnvironment, settings: Settings, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession],
    tokens: dict[tuple[Role, str], str], mail_sink: MailSink,
) -> None:
    address = f"127.0.0.1:{free_port()}"
    configured = on(env, settings, worker_metrics_address=address)
    assert worker_runtime(configured) is worker_runtime(configured)  # the port is bound once per process
    client = await connect(configured)  # the runtime comes from settings
    app = create_app(Services(settings, engine, sessions, client))
    async with (
        build_worker(client, settings.temporal_task_queue, engine, keys=settings.audit_keys),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk") as http,
    ):
        await seed_demo_smes(engine)
        await Desk(http, tokens).file(APPLICANT)
        async with httpx.AsyncClient() as scraper:
            for _ in range(50):  # the SDK records some metrics a moment after the work is done
                text = (await scraper.get(f"http://{address}/metrics")).text
                names = {family.name for family in text_string_to_metric_families(text)}
                if {"temporal_request", "temporal_local_activity_execution_latency"} <= names:
                    break
                await asyncio.sleep(0.1)
    assert {"temporal_request", "temporal_local_activity_execution_latency"} <= names, sorted(names)


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """JSON logging (as LOG_FORMAT=json sets it up) into a buffer; the logging set-up before it comes back after."""
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    configure_logging("json", "INFO")
    structlog.configure(cache_logger_on_first_use=False)  # so no logger keeps this set-up after the test
    buffer = io.StringIO()
    ours = root.handlers[0]
    assert isinstance(ours, logging.StreamHandler)
    ours.setStream(buffer)
    yield buffer
    root.handlers[:] = [h for h in handlers if not type(h).__module__.startswith("_pytest")]
    root.setLevel(level)
    structlog.configure(**config)


async def test_json_logs_name_the_request_case_workflow_and_run(desk: Desk, json_logs: io.StringIO) -> None:
    response = await desk.http.post("/api/cases", json=filing(),
                                    headers={**desk.headers(APPLICANT), "X-Request-ID": "req-42"})
    assert response.status_code == 201
    case_id = response.json()["id"]
    await desk.ok(case_id, "relay", COORDINATOR, offices=[SJ])  # e-mails the officers, through the mail relay
    for _ in range(100):  # the e-mails go out after the action has answered
        lines = [json.loads(line) for line in json_logs.getvalue().splitlines() if line.startswith("{")]
        mail = [line for line in lines if line["event"] == "mail sent" and line.get("case_id") == case_id]
        if mail:
            break
        await asyncio.sleep(0.1)

    request = next(line for line in lines if line["event"] == "request" and line.get("request_id") == "req-42")
    assert request["path"] == "/api/cases"
    recorded = [line for line in lines if line["event"] == "case event recorded" and line["case_id"] == case_id]
    assert recorded and all(line["workflow_id"] == f"case-{case_id}" and line["run_id"] for line in recorded)
    assert mail and all(line["notification"] and line["template"] == "relay" for line in mail)


def series(text: str) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    return {(name, tuple(sorted(labels.items()))) for name, labels, _ in samples(text)
            if name.startswith("casedesk_http_request_duration_seconds")}


async def test_random_methods_and_paths_never_add_series(desk: Desk) -> None:
    """Issue 19, seen 5: anyone may send any method to any path; the label values come from closed sets
    (unknown methods → `other`, unknown routes → `unmatched`), so 1,000 random ones add no series."""
    chooser = random.Random(19)

    def noise() -> tuple[str, str]:
        method = "".join(chooser.choices(string.ascii_uppercase, k=chooser.randint(3, 12)))
        path = chooser.choice(["/health", "/metrics", "/api/cases/" + uuid.UUID(int=chooser.getrandbits(128)).hex,
                               "/" + "/".join(chooser.choices(string.ascii_lowercase + string.digits, k=8))])
        return method, path

    async def send(count: int) -> None:
        for _ in range(count):
            method, path = noise()
            response = await desk.http.request(method, path)
            assert response.status_code < 500, (method, path, response.text)

    await send(50)  # every kind of noise once, so its (bounded) series exist
    await scrape(desk.http)  # and the scrape's own
    before = series(await scrape(desk.http))
    await send(1000)
    text = await scrape(desk.http)
    assert series(text) == before
    assert {dict(labels)["method"] for _, labels in before} <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE",
                                                               "OPTIONS", "other"}
    assert value(text, "casedesk_http_request_duration_seconds_count", method="other") >= 1050
