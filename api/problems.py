"""Errors as RFC 9457 problem documents; every error the API returns goes through here.

`problem_of` maps the services' domain errors (`domain.errors`) to HTTP once (the console shows the same
problems as pages); the exception handlers below answer everything else, and the body-size limit
(`api.limits`), which refuses before any route runs, answers with `too_large`. Only `/health` reports its own
503 (a status report, not a problem).
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from domain.errors import (
    BadCursor,
    CaseNotFound,
    DeskError,
    Forbidden,
    HistoryUnavailable,
    InvalidInput,
    KeyReused,
    NoSuchAction,
    NotFiledYet,
    Refused,
    StepFailed,
    StillFiling,
    Unreplayable,
)
from domain.rules import Refusal, RefusalKind
from services.availability import (
    POOL_TIMEOUT,
    UNWRAPPED_DRIVER_ERRORS,
    DatabaseError,
    database_unavailable,
    unwrapped_unavailable,
)

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
STATUS_OF_REFUSAL = {
    RefusalKind.NOT_VISIBLE: 404,
    RefusalKind.FORBIDDEN: 403,
    RefusalKind.ILLEGAL_STAGE: 409,
    RefusalKind.INVALID: 422,
}


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str, type_: str = "about:blank", **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.type, self.extra = status, title, detail, type_, extra

    def response(self) -> JSONResponse:
        body = {"type": self.type, "title": self.title, "status": self.status, "detail": self.detail, **self.extra}
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else None
        return JSONResponse(body, status_code=self.status, media_type=PROBLEM_JSON, headers=headers)


def refusal_problem(refusal: Refusal, allowed: list[str]) -> Problem:
    status = STATUS_OF_REFUSAL[refusal.kind]
    titles = {404: "Case not found", 403: "Not allowed", 409: "Not possible in this stage", 422: "Invalid payload"}
    extra: dict[str, Any] = {"action": refusal.action}
    if status != 404:
        extra |= {"stage": refusal.stage, "allowed_actions": allowed}
    return Problem(status, titles[status], refusal.detail, f"urn:case-desk:{refusal.kind}", **extra)


def validation_problem(errors: list[dict[str, Any]], title: str = "Invalid request") -> Problem:
    # pydantic words a refusal of ours "Value error, <our sentence>": the sentence is what a person reads
    cleaned = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")).removeprefix("Value error, "),
                "type": e.get("type", "")} for e in errors]
    detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in cleaned) or title
    return Problem(422, title, detail, "urn:case-desk:invalid", errors=cleaned)


def problem_of(error: DeskError) -> Problem:
    """The one mapping of the services' domain errors to HTTP (the API and the console both use it)."""
    match error:
        case Refused():
            problem = refusal_problem(error.refusal, error.allowed)
            if problem.status != 404:
                problem.extra["stage"] = error.stage
            return problem
        case InvalidInput() if error.errors or error.detail == error.title:
            return validation_problem(error.errors, error.title)
        case InvalidInput():
            return Problem(422, error.title, error.detail, "urn:case-desk:invalid")
        case CaseNotFound():
            return Problem(404, "Case not found", error.detail, "urn:case-desk:not_visible")
        case NotFiledYet():
            return Problem(404, "Case not found", error.detail, "urn:case-desk:not_found")
        case NoSuchAction():
            return Problem(404, "No such action", error.detail, "urn:case-desk:no_action")
        case Forbidden():
            return Problem(403, "Not allowed", error.detail, "urn:case-desk:forbidden")
        case BadCursor():
            return Problem(422, "Invalid cursor", error.detail, "urn:case-desk:invalid")
        case KeyReused():
            first = {"case_id": error.first.case_id, "action": error.first.action}
            return Problem(422, "Idempotency-Key reused", error.detail, "urn:case-desk:idempotency_key_reused",
                           first_used_for=first)
        case StepFailed():
            return Problem(422, "The step failed", error.detail, "urn:case-desk:step_failed", step=error.step)
        case StillFiling():
            return Problem(503, "Temporarily unavailable", error.detail, "urn:case-desk:unavailable")
        case Unreplayable():
            return Problem(409, "History cannot be replayed", error.detail, "urn:case-desk:unreplayable")
        case HistoryUnavailable():
            return Problem(409, "Workflow history unavailable", error.detail, "urn:case-desk:history_unavailable")
    raise TypeError(f"no HTTP mapping for {type(error).__name__}")  # a new error class must be mapped here


def too_large(max_bytes: int) -> Problem:
    return Problem(413, "Request body too large", f"request bodies here may be at most {max_bytes} bytes",
                   "urn:case-desk:too_large")


def unavailable(detail: str) -> JSONResponse:
    return Problem(503, "Temporarily unavailable", detail, "urn:case-desk:unavailable").response()


def internal_error() -> JSONResponse:
    """The 500 of a request the server failed (a bug): no detail of the failure, which the log line bound to the
    request's id holds."""
    return Problem(500, "Internal error", "the server failed; the request id is in the logs").response()


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def on_problem(_: Request, exc: Problem) -> JSONResponse:
        return exc.response()

    @app.exception_handler(DeskError)
    async def on_desk_error(_: Request, exc: DeskError) -> JSONResponse:
        return problem_of(exc).response()

    @app.exception_handler(RequestValidationError)
    async def on_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_problem(list(exc.errors())).response()

    @app.exception_handler(StarletteHTTPException)
    async def on_http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI could not read the body at all (not UTF-8, a broken form): as bad JSON
            error = {"loc": ["body"], "msg": "the body cannot be read: send JSON text in UTF-8",
                     "type": "body_unreadable"}
            return validation_problem([error]).response()
        titles = {404: "Not found", 405: "Method not allowed", 413: "Request body too large"}
        title = titles.get(exc.status_code, "HTTP error")
        return Problem(exc.status_code, title, str(exc.detail)).response()

    @app.exception_handler(WorkflowUpdateRPCTimeoutOrCancelledError)
    async def on_update_timeout(_: Request, exc: WorkflowUpdateRPCTimeoutOrCancelledError) -> JSONResponse:
        log.warning("update timed out", error=str(exc))
        return unavailable(
            "the case did not answer in time; the action may still be applied. Reload the case, or "
            "send it again with the same Idempotency-Key to apply it at most once"
        )

    @app.exception_handler(RPCError)
    async def on_temporal_unavailable(_: Request, exc: RPCError) -> JSONResponse:
        log.warning("temporal unavailable", error=str(exc))
        return unavailable("the workflow engine did not answer; try again shortly")

    def database_not_now(error: object, what: str = "database unavailable") -> JSONResponse:
        """The 503 of every database failure that means "not now" (logged as a warning, not an error)."""
        log.warning(what, error=str(error))
        return unavailable("the database did not answer; try again shortly")

    @app.exception_handler(DatabaseError)
    async def on_database_unavailable(_: Request, exc: DatabaseError) -> JSONResponse:
        if not database_unavailable(exc):
            log.exception("database error")
            return internal_error()
        return database_not_now(exc.orig)

    @app.exception_handler(ConnectionError)
    async def on_connection_refused(_: Request, exc: ConnectionError) -> JSONResponse:
        # A new connection to a PostgreSQL that is down fails in asyncpg's connect with ConnectionRefusedError,
        # which SQLAlchemy passes on unwrapped (it is no DBAPIError): the same 503, not an internal error.
        return database_not_now(exc)

    async def on_unwrapped_driver_error(_: Request, exc: Exception) -> JSONResponse:
        # What asyncpg raises while the pool sets a new connection up, which SQLAlchemy passes on unwrapped: a
        # connection the server dropped then is "not now", as it is once set up (seen with backends terminated
        # under load, 500s before).
        if not unwrapped_unavailable(exc):
            log.exception("database error")
            return internal_error()
        return database_not_now(exc)

    for driver_error in UNWRAPPED_DRIVER_ERRORS:
        app.add_exception_handler(driver_error, on_unwrapped_driver_error)

    @app.exception_handler(POOL_TIMEOUT)
    async def on_pool_timeout(_: Request, exc: Exception) -> JSONResponse:
        # Every pooled connection stayed busy past `db_pool_timeout` (the database slow or its connections being
        # dropped and made again): the request may succeed shortly, so a 503, not an internal error.
        return database_not_now(exc, "database connections all busy")

    @app.exception_handler(Exception)
    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return internal_error()
