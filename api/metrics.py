"""`GET /metrics`: Prometheus text — request latency by route template, and case counts read at scrape time.

Like `/health` it needs no token: it shows counts only, never case data. Keep it on an internal network.
Each app has a registry of its own, so several apps in one process (tests) never share or collide.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from time import perf_counter

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import ServicesDep
from services.incidents import IncidentTally, tally_incidents
from services.mail_outbox import OutboxTally
from services.mail_outbox import tally as tally_outbox
from services.read_model import CaseTally, tally_cases

log = structlog.get_logger(__name__)
router = APIRouter(tags=["operations"])

REQUEST_DURATION = "casedesk_http_request_duration_seconds"
UNMATCHED = "unmatched"  # the route label of requests no route took (404s, bodies refused before routing)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""The method label's values besides `OTHER_METHOD`: a client may send any token as a method (issue 19)."""
OTHER_METHOD = "other"
COUNT_TIMEOUT = 5.0


class CaseGauges(Collector):
    """Yields the tally the scrape just read (a collector cannot await the database itself)."""

    def __init__(self) -> None:
        self.tally: CaseTally | None = None

    def collect(self) -> Iterator[Metric]:
        if self.tally is None:
            return
        by_stage = GaugeMetricFamily("casedesk_cases", "Cases by stage.", labels=["stage"])
        for stage, count in sorted(self.tally.by_stage.items()):
            by_stage.add_metric([stage], count)
        yield by_stage
        yield GaugeMetricFamily("casedesk_cases_overdue", "Open cases past their due date.", value=self.tally.overdue)
        escalated = GaugeMetricFamily("casedesk_cases_escalated", "Open cases by escalation level.", labels=["level"])
        for level, count in self.tally.escalated.items():
            escalated.add_metric([str(level)], count)
        yield escalated


class IncidentGauges(Collector):
    """Open incidents by step, and step failures ever recorded by step and kind (from PostgreSQL, so every
    worker's failures count, not only this process's)."""

    def __init__(self) -> None:
        self.tally: IncidentTally | None = None

    def collect(self) -> Iterator[Metric]:
        if self.tally is None:
            return
        open_now = GaugeMetricFamily("casedesk_incidents", "Open incidents (stuck steps) by step.", labels=["step"])
        for step, count in sorted(self.tally.open_by_step.items()):
            open_now.add_metric([step], count)
        yield open_now
        failures = CounterMetricFamily("casedesk_step_failures", "Failed attempts of steps, by step and kind.",
                                       labels=["step", "kind"])
        for (step, kind), count in sorted(self.tally.failures.items()):
            failures.add_metric([step, kind], count)
        yield failures


class OutboxGauges(Collector):
    """The outbox by status and how long its oldest pending message has waited (mail that does not leave)."""

    def __init__(self) -> None:
        self.tally: OutboxTally | None = None
        self.at: datetime | None = None

    def collect(self) -> Iterator[Metric]:
        if self.tally is None or self.at is None:
            return
        by_status = GaugeMetricFamily("casedesk_outbox", "Outbox messages by status.", labels=["status"])
        for status, count in sorted(self.tally.by_status.items()):
            by_status.add_metric([status], count)
        yield by_status
        oldest = self.tally.oldest_pending_at
        waited = (self.at - oldest).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily("casedesk_outbox_oldest_pending_seconds",
                                "Age of the oldest message not sent yet (0: none waits).", value=max(waited, 0.0))


class AppMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            REQUEST_DURATION, "HTTP request latency by method, route template and status.",
            ["method", "route", "status"], registry=self.registry,
        )
        self.cases = CaseGauges()
        self.registry.register(self.cases)
        self.incidents = IncidentGauges()
        self.registry.register(self.incidents)
        self.outbox = OutboxGauges()
        self.registry.register(self.outbox)


def method_label(method: str) -> str:
    """The request's method if it is one of `METHODS`, else `other`."""
    return method if method in METHODS else OTHER_METHOD


def route_label(scope: Scope) -> str:
    """The template of the route that took the request (`/api/cases/{case_id}`), else `unmatched`."""
    return getattr(scope.get("route"), "path", None) or UNMATCHED  # the router sets it on the same scope


class RequestTimer:
    """Times every HTTP request. Every label comes from a closed set — the method from `METHODS` or `other`,
    the route's template (never the raw path) or `unmatched`, the status the app answered — so no client
    can grow the number of series, whatever methods, paths or ids it sends."""

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets when the app raises before answering

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = perf_counter()
        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            labels = (method_label(scope["method"]), route_label(scope), str(status))
            self.histogram.labels(*labels).observe(perf_counter() - started)


def install(app: FastAPI) -> None:
    """The route and the request timer, on a registry of this app's own (call after the other middleware)."""
    metrics = AppMetrics()
    app.state.metrics = metrics
    app.include_router(router)
    app.add_middleware(RequestTimer, histogram=metrics.requests)


@router.get(
    "/metrics",
    summary="Prometheus metrics: request latency, cases by stage, overdue and escalated (no token needed)",
    response_class=PlainTextResponse,
)
async def prometheus_metrics(request: Request, services: ServicesDep) -> Response:
    metrics: AppMetrics = request.app.state.metrics
    try:
        tally: CaseTally | None = await asyncio.wait_for(tally_cases(services), COUNT_TIMEOUT)
    except Exception as error:  # the request metrics are still worth a scrape when the database is away
        log.warning("case gauges unavailable", error=str(error) or type(error).__name__)
        tally = None
    try:
        incidents: IncidentTally | None = await asyncio.wait_for(tally_incidents(services.engine), COUNT_TIMEOUT)
    except Exception as error:
        log.warning("incident gauges unavailable", error=str(error) or type(error).__name__)
        incidents = None
    try:
        mail: OutboxTally | None = await asyncio.wait_for(tally_outbox(services.engine), COUNT_TIMEOUT)
    except Exception as error:
        log.warning("outbox gauges unavailable", error=str(error) or type(error).__name__)
        mail = None
    # then rendered at once: no await in between, so no other scrape interleaves
    metrics.cases.tally, metrics.incidents.tally = tally, incidents
    metrics.outbox.tally, metrics.outbox.at = mail, datetime.now(UTC)
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
