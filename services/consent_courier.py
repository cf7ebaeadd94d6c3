"""The consent courier: tells each open case that one of its candidates withdrew consent, until its workflow has it.

A withdrawal (a registry import) writes one `consent_tellings` row per (open case, SME) in its own transaction
(`infra.consent_tellings`), so it is never lost when Temporal is away. Each worker runs one courier beside its mail
relay; the courier claims one due row at a time (`FOR UPDATE SKIP LOCKED`), signals the case's workflow
(`ConsentWithdrawn` carrying the row's id, so the workflow records a withdrawal told twice once) and marks it done
in the same transaction. A failed try waits 2 s, then twice as long each time up to `longest_backoff`, and tries
again for as long as it takes: a withdrawal is never given up. One still untold `incident_after` its withdrawal is
an open incident of its case (`alliance incidents list`, step `tell_consent_withdrawn`), resolved when it is told;
`alliance incidents retry CASE` makes it due at once. A case that closed meanwhile, or that no longer exists, is
marked done without a signal (a closed case takes no further step with anyone).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from contracts.case import CONSENT_WITHDRAWN_SIGNAL, ConsentWithdrawn, workflow_id
from infra import consent_tellings as tellings
from infra.incidents import UNDELIVERED, note_failure, note_recovery
from services.background import at_work, utc_now

log = structlog.get_logger(__name__)

STEP = "tell_consent_withdrawn"
"""The incidents' step for a withdrawal not yet told to its case."""
FIRST_BACKOFF = timedelta(seconds=2)
SIGNAL_TIMEOUT = timedelta(seconds=5)


class Told(Enum):
    """What became of one try."""

    DONE = "done"  # the workflow has it, or there is nothing to tell (the case closed, or is unknown)
    NOT_RUNNING = "not_running"  # the case is open but its workflow is not running
    AWAY = "away"  # Temporal did not answer


@dataclass
class ConsentCourier:
    """Tells due withdrawals until stopped; `clock` decides what is due (tests move it on)."""

    engine: AsyncEngine
    temporal: Client
    longest_backoff: timedelta = timedelta(minutes=10)
    incident_after: timedelta = timedelta(minutes=10)
    idle_seconds: float = 1.0
    clock: Callable[[], datetime] = utc_now

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ConsentCourier]:
        """The courier at work for the `async with` block (stopped on leaving)."""
        async with at_work(self.run):
            yield self

    async def run(self, stop: asyncio.Event) -> None:
        """Tell due withdrawals until `stop`; the database or Temporal away is logged and tried again."""
        while not stop.is_set():
            try:
                worked = await self.tell_one() is not None
            except Exception as error:  # the database is away: try again shortly, never stop telling
                log.warning("consent courier cannot reach its list", error=str(error)[:300])
                worked = False
            if not worked:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.idle_seconds)

    async def tell_due(self, ids: list[str] | None = None) -> int:
        """Tell each withdrawal due now once (of `ids` only, when given), stopping when Temporal does not answer
        (the courier tries the rest later); how many were done. A case whose workflow is not running does not
        stop the others."""
        done = 0
        while (result := await self.tell_one(ids)) is not None and result is not Told.AWAY:
            done += result is Told.DONE
        return done

    async def tell_one(self, ids: list[str] | None = None) -> Told | None:
        """Tell the withdrawal due longest ago (of `ids` only, when given); None when none is due. One that fails
        waits for its next try, and is an incident once `incident_after` its withdrawal; the incident (one per case)
        is resolved once none of its case's withdrawals is left to tell."""
        async with self.engine.begin() as conn:
            now = self.clock()
            telling = await tellings.claim_due(conn, now, ids)
            if telling is None:
                return None
            bound = log.bind(case_id=telling.case_id, sme_id=telling.sme_id, withdrawal=telling.id,
                             attempt=telling.attempts + 1)
            result, failure = await self._signal(telling)
            outcome = tellings.Outcome.TOLD
            if result is Told.NOT_RUNNING:  # has the case closed, or does it not exist?
                is_open = await tellings.case_is_open(conn, telling.case_id)
                if not is_open:
                    result = Told.DONE
                    outcome = tellings.Outcome.UNKNOWN if is_open is None else tellings.Outcome.CLOSED
            if result is Told.DONE:
                await tellings.mark_done(conn, telling, now, outcome)
                bound.info("withdrawal of consent done", outcome=outcome)
            else:
                backoff = min(FIRST_BACKOFF * 2 ** min(telling.attempts, 20), self.longest_backoff)
                await tellings.mark_failed(conn, telling, failure, now + backoff)
                bound.warning("withdrawal of consent not told yet", error=failure[:300], next_in_s=backoff.seconds)
        if result is Told.DONE:  # the case's one incident stands for all its untold withdrawals
            if not await tellings.untold(self.engine, case_id=telling.case_id):
                await note_recovery(self.engine, workflow_id(telling.case_id), STEP)
        elif now - telling.withdrawn_at >= self.incident_after:
            await note_failure(self.engine, workflow_id(telling.case_id), STEP, UNDELIVERED, telling.attempts + 1,
                               f"consent withdrawn by {telling.sme_id} not told: {failure}"[:500])
        return result

    async def _signal(self, telling: tellings.Telling) -> tuple[Told, str]:
        """Signal the case's workflow: whether it has it now, and why not."""
        try:
            handle = self.temporal.get_workflow_handle(workflow_id(telling.case_id))
            await handle.signal(CONSENT_WITHDRAWN_SIGNAL,
                                ConsentWithdrawn(sme_ids=[telling.sme_id], withdrawal=telling.id),
                                rpc_timeout=SIGNAL_TIMEOUT)
            return Told.DONE, ""
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return Told.NOT_RUNNING, "the case is open but its workflow is not running"
            return Told.AWAY, str(error) or error.status.name
        except Exception as error:  # e.g. Temporal never reached since the start: the same as away
            return Told.AWAY, str(error) or type(error).__name__
