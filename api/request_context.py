"""Every request's context: its id bound to each log line and echoed in `X-Request-ID`, the door's rules on
(`domain.door.at_the_door`), and one log line when it is answered.

A plain ASGI middleware: Starlette's `BaseHTTPMiddleware` (`@app.middleware("http")`) runs the app in a task of
its own and passes the response through memory streams, a cost paid on every request (issue 15, profiled).
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import internal_error
from domain.door import at_the_door

log = structlog.get_logger(__name__)

CALLERS_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
"""A caller's X-Request-ID that is kept (echoed, logged); any other (too long, other characters) is replaced by a
new one, so no caller can put megabytes or odd bytes into every log line of its request."""


class RequestContext:
    """Binds `request_id` (the caller's `X-Request-ID`, or a new one) for the request's log lines, answers with
    it in `X-Request-ID`, validates what comes in by every rule, and logs `request` (method, path, status, ms)
    once the response has started. A request the app fails before answering (a bug) is logged with its traceback
    and answered here with a problem+json 500 that carries the id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((value for name, value in scope["headers"] if name == b"x-request-id"), None)
        request_id = given.decode("ascii") if given and CALLERS_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        with at_the_door():  # what a request brings is checked by every rule (domain.fields)
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                if status is not None:  # the answer has begun: nothing else can be sent (the server logs it)
                    raise
                # Starlette's handler of last resort answers outside this middleware, without the request's id:
                # answer here, so the 500 carries the id its log line has.
                log.exception("unexpected error")
                await internal_error()(scope, receive, send_with_id)
        if status is not None:
            log.info("request", method=scope["method"], path=scope["path"], status=status,
                     ms=round((time.perf_counter() - started) * 1000, 1))
