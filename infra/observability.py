"""Observability wiring: the Temporal runtime that serves the worker's SDK metrics, and OpenTelemetry tracing.

Both are off unless configured (`WORKER_METRICS_ADDRESS`, `OTEL_EXPORTER_OTLP_ENDPOINT`); when off, nothing
of either is set up. Each is built once per process — a metrics port can be bound only once and OpenTelemetry's
global tracer provider can be set only once — so asking again returns the same object.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.telemetry import TelemetryConfig as FastAPITelemetry
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from infra.settings import Settings
from infra.startup import StartupError

_runtimes: dict[str, Runtime] = {}
_tracings: dict[tuple[str, str], Tracing] = {}


def worker_runtime(settings: Settings) -> Runtime | None:
    """A Temporal runtime serving the SDK's Prometheus metrics on `WORKER_METRICS_ADDRESS`; None when unset.

    Clients (and so the workers built from them) made with this runtime report into it.
    """
    address = settings.worker_metrics_address
    if not address:
        return None
    if address not in _runtimes:
        try:
            _runtimes[address] = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))
        except ValueError as error:  # the bridge says "address in use" or "invalid address" this way
            raise StartupError(
                f"cannot serve worker metrics on {address}: {error}; free it or set WORKER_METRICS_ADDRESS"
            ) from None
    return _runtimes[address]


@dataclass(frozen=True)
class Tracing:
    """A tracer provider and the Temporal interceptor that traces through it.

    The interceptor goes on the Temporal client: client calls, and the workflows and activities of any worker
    built from that client, are then spans of the trace that made the call (an API request, say).
    """

    provider: TracerProvider
    interceptor: TracingInterceptor


def fastapi_telemetry(tracing: Tracing | None) -> FastAPITelemetry:
    """FastAPI's native request spans (one server span per request, current while it runs) on `tracing`'s
    provider, or nothing at all; its metrics and logs stay off (Prometheus and structlog do those)."""
    if tracing is None:
        return {"tracing": False, "metrics": False, "logs": False}
    return {"tracer_provider": tracing.provider, "metrics": False, "logs": False}


def _tracing_to(exporter: SpanExporter, service_name: str) -> Tracing:
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return Tracing(provider, TracingInterceptor(provider.get_tracer(__name__)))


def setup_tracing(settings: Settings, exporter: SpanExporter | None = None) -> Tracing | None:
    """Tracing to `OTEL_EXPORTER_OTLP_ENDPOINT` (OTLP over HTTP), or None when that is unset.

    With an `exporter` (a test's in-memory one) the result is a provider of its own, never the global one.
    """
    if exporter is not None:
        return _tracing_to(exporter, settings.otel_service_name)
    endpoint = settings.otel_exporter_otlp_endpoint
    if not endpoint:
        return None
    key = (endpoint, settings.otel_service_name)
    if key not in _tracings:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        tracing = _tracing_to(OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces"), key[1])
        if not _tracings:  # the global provider, for any library that asks OpenTelemetry for a tracer
            trace.set_tracer_provider(tracing.provider)
        _tracings[key] = tracing
    return _tracings[key]
