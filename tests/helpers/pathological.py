"""A real `alliance` process with two more activities on its worker, for the bounded-logs tests.

`python -m tests.helpers.pathological run` (or `worker`, `api`) is `alliance run` itself — same CLI, settings,
logging, event loop and signal handling (its `run` starts this module's `worker` as its worker process) — except
that its worker also serves:

- `explode`: fails the way the matching activity did in issue 22: a RecursionError deep inside SQLAlchemy
  expression building, the cause of an error whose message is as long as asked;
- `hog_the_loop`: keeps the event loop busy without awaiting for as long as asked, the way rendering that
  traceback did (minutes with Rich's locals).

A test reaches them through `CallOnQueue`, a workflow of its own that calls one by name on the product's task
queue. `PATHOLOGICAL_STOP_BOUND` (seconds) shortens the stop bound, so a test need not wait 30 s for it.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import column, literal
from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

EXPLODE = "explode"
HOG = "hog_the_loop"
HOGGING = "hogging the event loop"

log = structlog.get_logger(__name__)


def deep_sqlalchemy_expression(terms: int = 400) -> None:
    """Compile `x || 0 || 1 || …`: SQLAlchemy's compiler recurses a few frames per term (RecursionError)."""
    expression: Any = column("x")
    for term in range(terms):
        expression = expression.op("||")(literal(term))
    str(expression.compile())


@activity.defn(name=EXPLODE)
async def explode(message_bytes: int) -> None:
    try:
        deep_sqlalchemy_expression()
    except RecursionError as error:
        raise RuntimeError("candidate query failed: " + "x" * message_bytes) from error


@activity.defn(name=HOG)
async def hog_the_loop(seconds: float) -> None:
    log.warning(HOGGING, seconds=seconds)
    end = time.monotonic() + seconds
    while time.monotonic() < end:  # no await: nothing else in this loop runs meanwhile
        pass


@dataclass(frozen=True)
class Call:
    activity: str
    argument: float
    task_queue: str
    attempts: int = 1


@workflow.defn(name="CallOnQueue")
class CallOnQueue:
    @workflow.run
    async def run(self, call: Call) -> str:
        """`done`, or `failed: <type of the activity's error>` once its attempts are spent."""
        try:
            await workflow.execute_activity(
                call.activity,
                call.argument,
                task_queue=call.task_queue,
                start_to_close_timeout=timedelta(minutes=10),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(milliseconds=100), backoff_coefficient=1.0,
                    maximum_attempts=call.attempts,
                ),
            )
        except ActivityError as error:
            cause = error.cause
            return f"failed: {cause.type if isinstance(cause, ApplicationError) else type(cause).__name__}"
        return "done"


def main() -> None:
    from temporalio.worker import Worker as real_worker

    import app.serving
    import app.worker_process
    import workers.case_worker
    from app.cli import main as alliance

    def worker_with_extras(*args: Any, **kwargs: Any) -> Any:
        kwargs["activities"] = [*kwargs["activities"], explode, hog_the_loop]
        return real_worker(*args, **kwargs)

    workers.case_worker.Worker = worker_with_extras  # type: ignore[attr-defined,assignment]
    # `run` starts its worker as a process of its own: this module's `worker`, so it serves the extras too.
    app.worker_process.COMMAND = [sys.executable, "-m", "tests.helpers.pathological", "worker"]
    if bound := os.environ.get("PATHOLOGICAL_STOP_BOUND"):
        app.serving.STOP_BOUND = timedelta(seconds=float(bound))
    sys.argv = ["alliance", *sys.argv[1:]]
    alliance()


if __name__ == "__main__":
    main()
