"""Steps that fail cleanly: each error is transient (retried with backoff) or permanent (stopped after a few
attempts), and a step that keeps failing is an incident an operator can see.

Temporal retries an activity for ever by default, so one deterministic failure (a `RecursionError`, a value
the database refuses) used to wedge its case silently. Every activity of the case desk runs inside
`classified`: a transient error (the database or the mail server unreachable, a timeout, a serialization
failure or deadlock, a server restarting) is raised as it is and retried; anything else is permanent: after
`PERMANENT_ATTEMPTS` attempts it is raised as a non-retryable `ApplicationError` of type `step_failed`, so
the Update that caused it answers with a clear problem and the case stays as it was, open to other actions. A
stored row no step can read (`Unreplayable`: the table's owner altered it) is that verdict at the first attempt:
no retry reads it otherwise.
"""

from __future__ import annotations

import contextlib
import functools
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import structlog
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from contracts.errors import STEP_FAILED, STORED_EVENT_INVALID
from domain.errors import Unreplayable
from infra.incidents import note_failure, note_recovery

log = structlog.get_logger(__name__)

PERMANENT_ATTEMPTS = 3
"""A permanent error is tried this many times (it may yet be a transient one in disguise), then stops."""
ERROR_SUMMARY_CHARS = 500
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "53", "57"})  # connection, resources, operator intervention
UNSTORABLE_SQLSTATE_CLASS = "22"  # data exception: the value itself is refused (U+0000 in jsonb, out of range)
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03"})  # serialization failure, deadlock, lock timeout
INCIDENTS_WHEN_REFUSED = frozenset({STORED_EVENT_INVALID})
"""Refusals a step decides for good that an operator must see (an incident), not only the Update's caller."""


def is_transient(error: BaseException) -> bool:
    """Would the same attempt, tried again later, probably succeed?"""
    if isinstance(error, OperationalError | InterfaceError):
        return True
    if isinstance(error, DBAPIError):
        state = str(getattr(error.orig, "sqlstate", None) or "")
        return error.connection_invalidated or state in TRANSIENT_SQLSTATES or state[:2] in TRANSIENT_SQLSTATE_CLASSES
    if isinstance(error, UnicodeError):  # a ValueError, but no retry will ever encode it
        return False
    return isinstance(error, ConnectionError | TimeoutError | OSError)


def is_unstorable(error: BaseException) -> bool:
    """Does PostgreSQL refuse the value itself, so that no retry will ever store it (SQLSTATE class 22)?

    asyncpg's errors reach SQLAlchemy as a plain `DBAPIError` whatever their class (a `DataError` only for
    some), so the SQLSTATE decides, not the exception's type.
    """
    if not isinstance(error, DBAPIError):
        return False
    state = str(getattr(error.orig, "sqlstate", None) or "")
    return isinstance(error, DataError) or state[:2] == UNSTORABLE_SQLSTATE_CLASS


def summary_of(error: BaseException) -> str:
    """One bounded line naming the error (never a traceback)."""
    text = f"{type(error).__name__}: {error}".splitlines()[0] if str(error) else type(error).__name__
    return text if len(text) <= ERROR_SUMMARY_CHARS else text[: ERROR_SUMMARY_CHARS - 1] + "…"


class HasEngine(Protocol):
    engine: AsyncEngine


Method = TypeVar("Method", bound=Callable[..., Awaitable[Any]])


FAILED_HERE_KEPT = 10_000
_failed_here: OrderedDict[tuple[str, str], None] = OrderedDict()
"""(workflow, step) whose failure this process noted: the step's next success resolves its incident (other
processes' and forgotten ones are resolved by the scan once their case has ended, or by a retry)."""


async def _note_failure(engine: AsyncEngine, step: str, kind: str, error: str) -> None:
    """Open (or bring up to date) the incident of this activity's step; never fails the activity itself."""
    info = activity.info()
    _failed_here[(info.workflow_id or "", step)] = None
    while len(_failed_here) > FAILED_HERE_KEPT:
        _failed_here.popitem(last=False)
    with contextlib.suppress(Exception):  # the database may be what is failing
        await note_failure(engine, info.workflow_id or "", step, kind, info.attempt, error)


async def _note_recovery(engine: AsyncEngine, step: str) -> None:
    """The step succeeded: resolve its incident, if it has one this process knows of (or a retry failed)."""
    info = activity.info()
    key = (info.workflow_id or "", step)
    if info.attempt == 1 and key not in _failed_here:
        return
    _failed_here.pop(key, None)
    with contextlib.suppress(Exception):
        await note_recovery(engine, key[0], step)


def classified(step: str) -> Callable[[Method], Method]:
    """Run an activity method of an object with an `engine` so that its failures are classified and seen."""

    def decorate(method: Method) -> Method:
        @functools.wraps(method)
        async def run(self: HasEngine, *args: Any) -> Any:
            attempt = activity.info().attempt
            try:
                result = await method(self, *args)
            except ApplicationError as error:  # already decided by the step (e.g. `unstorable`)
                if not error.non_retryable:
                    await _note_failure(self.engine, step, "transient", summary_of(error))
                elif error.type in INCIDENTS_WHEN_REFUSED:
                    log.error("step refused for good", step=step, error=summary_of(error))
                    await _note_failure(self.engine, step, "permanent", summary_of(error))
                raise
            except Exception as error:
                summary = summary_of(error)
                if is_transient(error):
                    log.warning("step failed, will retry", step=step, error=summary)
                    await _note_failure(self.engine, step, "transient", summary)
                    raise
                final = attempt >= PERMANENT_ATTEMPTS or isinstance(error, Unreplayable)
                log.error("step failed", step=step, error=summary, final=final)
                await _note_failure(self.engine, step, "permanent", summary)
                raise ApplicationError(
                    f"{step} failed: {summary}", {"step": step, "error": summary, "attempts": attempt},
                    type=STEP_FAILED, non_retryable=final,
                ) from None
            await _note_recovery(self.engine, step)
            return result

        return run  # type: ignore[return-value]

    return decorate
