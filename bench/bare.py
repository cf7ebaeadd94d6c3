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
            await workflow.execute_activity(NOOP_ACTIVITY, -1, start_to_close_timeout=ACTIVITY_TIMEOUT)
        done = await self._step()
        if name in MAILING_UPDATES:
            self.mailing += 1
            asyncio.create_task(self._mail())  # noqa: RUF006 (awaited through self.mailing before run returns)
        return done

    async def _mail(self) -> None:
        """Stands in for the case's mail courier: one activity beside the Updates."""
        await workflow.execute_activity(NOOP_ACTIVITY, -2, start_to_close_timeout=ACTIVITY_TIMEOUT)
        self.mailing -= 1

    async def _step(self) -> int:
        await workflow.execute_activity(NOOP_ACTIVITY, self.done, start_to_close_timeout=ACTIVITY_TIMEOUT)
        self.done += 1
        return self.done
