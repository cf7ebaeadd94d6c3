"""structlog configuration: readable console lines in dev, JSON in production.

Every line carries what is bound in context variables (request id, case id, workflow id) and, inside
an activity, the case id (from its workflow id), the Temporal workflow id, run id and attempt.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from structlog.types import EventDict, WrappedLogger
from temporalio import activity

CASE_WORKFLOW_PREFIX = "case-"  # contracts.case.workflow_id: a case's workflow id is `case-<case id>`


def add_temporal_context(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """Inside an activity, name the case, workflow and attempt it serves."""
    if activity.in_activity():
        info = activity.info()
        if info.workflow_id and info.workflow_id.startswith(CASE_WORKFLOW_PREFIX):
            event.setdefault("case_id", info.workflow_id.removeprefix(CASE_WORKFLOW_PREFIX))
        event.setdefault("workflow_id", info.workflow_id)
        event.setdefault("run_id", info.workflow_run_id)
        event.setdefault("activity", info.activity_type)
        event.setdefault("attempt", info.attempt)
    return event


def configure_logging(log_format: str = "console", level: str = "INFO") -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_temporal_context,
        structlog.stdlib.ExtraAdder(),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info if log_format == "json" else _identity,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "uvicorn.error", "alembic", "asyncio", "httpx", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _identity(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    return event
