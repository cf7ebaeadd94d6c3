"""The FastAPI application: routers, problem+json errors, request ids bound to every log line."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi

from api import (
    audit,
    audit_export,
    cases,
    conflicts,
    health,
    metrics,
    operations,
    people,
    problems,
    reassign,
    reports,
    smes,
    work,
)
from api.console import routes as console
from api.examples import ProblemDocument
from api.limits import BodySizeLimit
from api.query_params import only_declared_query
from api.request_context import RequestContext
from infra.observability import Tracing, fastapi_telemetry, setup_tracing
from services.context import Services


def create_app(services: Services, *, tracing: Tracing | None = None) -> FastAPI:
    """`tracing` defaults to what settings ask for (OTEL_EXPORTER_OTLP_ENDPOINT; unset: no request spans)."""
    app = FastAPI(
        title="Global Alliance Case Desk",
        version="0.1.0",
        description="Cases of METI's Global Alliance scheme: filing, review, matching, fund decision.",
        telemetry=fastapi_telemetry(tracing or setup_tracing(services.settings)),
        dependencies=[Depends(only_declared_query)],
    )
    app.state.services = services
    problems.install(app)
    app.include_router(health.router)
    app.include_router(cases.router)
    app.include_router(work.router)
    app.include_router(reassign.router)
    app.include_router(reports.router)
    app.include_router(people.router)
    app.include_router(conflicts.router)
    app.include_router(smes.router)
    app.include_router(audit.router)
    app.include_router(audit_export.router)
    app.include_router(operations.router)
    console.install(app)  # the web console's pages at `/` (not in the OpenAPI document)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=services.settings.max_body_bytes,
        larger={smes.IMPORT_PATH: services.settings.max_import_bytes},
    )
    app.add_middleware(RequestContext)

    metrics.install(app)  # outermost, so it times everything above, refusals included

    def openapi() -> dict[str, Any]:
        """The generated document, with the problem-details schema every error response refers to."""
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {})["ProblemDocument"] = (
                ProblemDocument.model_json_schema()
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
