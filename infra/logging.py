"""structlog configuration: readable console lines in dev, JSON in production.

Every line carries what is bound in context variables (request id, case id, workflow id) and, inside
an activity, the case id (from its workflow id), the Temporal workflow id, run id and attempt.

Every line is at most `max_line_bytes` (LOG_MAX_LINE_BYTES), in both formats and for the stdlib loggers of
third parties (temporalio, sqlalchemy, uvicorn…) alike, since all go through the one handler here: long values
are cut saying so and tracebacks are short and cheap to render (`infra.log_bounds`, `infra.tracebacks`).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from structlog.types import EventDict, WrappedLogger
from temporalio import activity

from domain.workflow_ids import case_of_workflow
from infra.log_bounds import DEFAULT_MAX_LINE_BYTES, BoundedRenderer
from infra.text_cut import cut

# Libraries whose loggers may have been given handlers of their own (uvicorn's default configuration gives
# `uvicorn` one and stops propagation; SQLAlchemy's `echo` adds one): they are taken off, so that every line
# goes through the bounded handler.
THIRD_PARTY = frozenset(
    {"uvicorn", "temporalio", "sqlalchemy", "alembic", "asyncio", "httpx", "httpcore", "mail", "aiosmtpd",
     "asyncpg", "fastapi", "starlette", "opentelemetry"}
)


def add_temporal_context(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """Inside an activity, name the case, workflow and attempt it serves."""
    if activity.in_activity():
        info = activity.info()
        if (case_id := case_of_workflow(info.workflow_id)) is not None:
            event.setdefault("case_id", case_id)
        event.setdefault("workflow_id", info.workflow_id)
        event.setdefault("run_id", info.workflow_run_id)
        event.setdefault("activity", info.activity_type)
        event.setdefault("attempt", info.attempt)
    return event


class BoundedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler whose own failures are one short line: the stdlib's `handleError` prints the whole
    record (a message of megabytes) and the whole call stack (a recursion of thousands of frames)."""

    def __init__(self, stream: Any, max_line_bytes: int) -> None:
        super().__init__(stream)
        self.max_line_bytes = max_line_bytes

    def handleError(self, record: logging.LogRecord) -> None:
        if not logging.raiseExceptions:
            return
        error = sys.exc_info()[1]
        try:
            what = record.msg.get("event") if isinstance(record.msg, dict) else record.msg
            line = (f"--- logging error: {type(error).__name__}: {error} --- while logging {record.name} "
                    f"{record.levelname}: {what}")
            sys.stderr.write(cut(line, self.max_line_bytes - 1) + "\n")
        except Exception:  # stderr itself is gone: nothing more to do
            pass


def configure_logging(
    log_format: str = "console", level: str = "INFO", max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> None:
    """One handler on the root logger, for structlog and stdlib loggers alike; no line over `max_line_bytes`."""
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
        # never Rich's tracebacks (locals of every frame, minutes for a deep recursion): ours come as text
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = BoundedStreamHandler(sys.stderr, max_line_bytes)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                BoundedRenderer(renderer, max_line_bytes),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in list(logging.root.manager.loggerDict):  # no way around the one bounded handler
        if name.split(".")[0] in THIRD_PARTY:
            third_party = logging.getLogger(name)
            third_party.handlers.clear()
            third_party.propagate = True
    for noisy in ("uvicorn.access", "uvicorn.error", "alembic", "asyncio", "httpx", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
