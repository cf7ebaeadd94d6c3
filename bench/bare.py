"""A bare workflow for the baseline: the same number of Updates and activities as a case, nothing else.

It lives in its own module so the workflow sandbox can import it without the benchmark's runner.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RawValue

BARE_WORKFLOW = "BareCase"
BARE_LOCAL_WORKFLOW = "BareCaseLocal"  # the same, every activity local: the least work Temporal does for it
NOOP_ACTIVITY = "bare_noop"
FILE_UPDATE = "file"
EXTRA_ACTIVITY_UPDATE = "run_matching"  # the Update that, like a case's, runs a second activity
# The Updates after which a case mails someone (the applicant's contact): one background activity each.
MAILING_UPDATES = frozenset({"relay", "accept_case", "approve_investment"})
ACTIVITY_TIMEOUT = timedelta(seconds=30)


@activity.defn(name=NOOP_ACTIVITY)
async def noop(step: int) -> int:
    """Does nothing; stands in for record_event and find_candidates."""
    return step


@workflow.defn(name=BARE_WORKFLOW)
class BareWorkflow:
    """What a team would write without the case desk: Updates that each run an activity, mail beside them."""

    @workflow.init
    def __init__(self, updates: int) -> None:
        self.updates = updates
        self.done = 0
        self.mailing = 0

    @workflow.run
    async def run(self, updates: int) -> int:
        await workflow.wait_condition(lambda: self.done >= self.updates)
        await workflow.wait_condition(workflow.all_handlers_finished)
        await workflow.wait_condition(lambda: self.mailing == 0)
        return self.done

    @workflow.update(name=FILE_UPDATE)
    async def file(self) -> int:
        return await self._step()

    @workflow.update(dynamic=True)
    async def act(self, name: str, args: Sequence[RawValue]) -> int:
        if name == EXTRA_ACTIVITY_UPDATE:
            await self._activity(-1)
        done = await self._step()
        if name in MAILING_UPDATES:
            self.mailing += 1
            asyncio.create_task(self._mail())  # noqa: RUF006 (awaited through self.mailing before run returns)
        return done

    async def _mail(self) -> None:
        """Stands in for a mail courier in the workflow: one activity beside the Updates."""
        await self._activity(-2)
        self.mailing -= 1

    async def _step(self) -> int:
        await self._activity(self.done)
        self.done += 1
        return self.done

    async def _activity(self, step: int) -> None:
        await workflow.execute_activity(NOOP_ACTIVITY, step, start_to_close_timeout=ACTIVITY_TIMEOUT)


@workflow.defn(name=BARE_LOCAL_WORKFLOW)
class BareLocalWorkflow(BareWorkflow):
    """The physical floor: the same workflow with every activity a local one (no activity task round trips)."""

    @workflow.init
    def __init__(self, updates: int) -> None:
        super().__init__(updates)

    @workflow.run
    async def run(self, updates: int) -> int:
        return await super().run(updates)

    async def _activity(self, step: int) -> None:
        await workflow.execute_local_activity(NOOP_ACTIVITY, step, start_to_close_timeout=ACTIVITY_TIMEOUT)
