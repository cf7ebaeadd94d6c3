"""One durable workflow per case (`case-<id>`): every action is an Update, the snapshot a Query."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from contracts.activities import deliver_mail, stored_filing
    from contracts.case import (
        CASE_WORKFLOW,
        FILE_UPDATE,
        RETRY_STEPS_SIGNAL,
        SNAPSHOT_QUERY,
        ActionCommand,
        CaseInput,
        FilingCommand,
        Receipt,
    )
    from contracts.errors import INVALID, NOT_FILED, UNKNOWN_ACTION
    from domain import events
    from domain.model import SYSTEM_ACTOR, Action, CaseState, Stage
    from domain.payloads import Payload, parse_payload
    from domain.rules import Refusal, check
    from domain.service_levels import fire, next_moment
    from domain.transitions import apply, event_payload, new_case
    from workflows.case_patches import LOST_FILING, QUIET_COMMANDS, SERVICE_LEVEL_TIMERS, STEP_FAILURES
    from workflows.case_recording import ACTIVITY_RETRY, ACTIVITY_TIMEOUT, failure_cause
    from workflows.case_signals import CaseSignals

STEP_BACKOFF = timedelta(hours=1)
FILING_GRACE = timedelta(minutes=10)
MAIL_TIMEOUT = timedelta(seconds=60)
MAIL_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), backoff_coefficient=2,
                         maximum_interval=timedelta(minutes=5))


def refused(refusal: Refusal) -> ApplicationError:
    return ApplicationError(refusal.detail, refusal.model_dump(mode="json"), type=refusal.kind, non_retryable=True)


def invalid(action: str, error: ValidationError | ValueError) -> ApplicationError:
    errors = error.errors(include_url=False) if isinstance(error, ValidationError) else [{"msg": str(error)}]
    details = {"kind": INVALID, "action": action, "errors": [{**e, "ctx": None} for e in errors]}
    return ApplicationError(f"invalid payload for {action}", details, type=INVALID, non_retryable=True)


@workflow.defn(name=CASE_WORKFLOW)
class CaseWorkflow(CaseSignals):
    @workflow.init
    def __init__(self, inp: CaseInput) -> None:
        self.case_id = inp.case_id
        self.history_limit = inp.history_limit
        self.service_levels = inp.service_levels
        self.state: CaseState | None = inp.state
        self.lock = asyncio.Lock()
        self.mail_waiting = inp.mail_waiting
        self.delivering = False
        self.indexed: tuple[object, ...] | None = None
        self.retry_requested = False
        self.reported: list[str] = []
        self.withdrawals_told = list(inp.withdrawals_told)

    @workflow.run
    async def run(self, inp: CaseInput) -> str | None:
        try:  # a start whose filing was refused leaves nothing behind
            await workflow.wait_condition(lambda: self.state is not None, timeout=FILING_GRACE)
        except TimeoutError:
            if not workflow.patched(LOST_FILING) or not await self._take_stored_filing():
                return None
        courier = asyncio.create_task(self._courier())
        while not self._should_stop_run():
            await self._wait_for_next_moment()
        await workflow.wait_condition(workflow.all_handlers_finished)
        await workflow.wait_condition(lambda: not self.mail_waiting and not self.delivering)
        courier.cancel()
        assert self.state is not None
        if self.state.stage == Stage.CLOSED:
            return self.state.outcome
        workflow.continue_as_new(
            CaseInput(case_id=self.case_id, state=self.state, history_limit=self.history_limit,
                      service_levels=self.service_levels, mail_waiting=self.mail_waiting,
                      withdrawals_told=self.withdrawals_told)
        )

    async def _take_stored_filing(self) -> bool:
        """Take the filing stored for this case, if one is: recorded by the local activity of a workflow task that
        was lost, whose Update never came back (issue 15). The trail and the read model show a filed case; without
        this, its workflow would end and leave a case no workflow runs, every action on it unanswered."""
        async with self.lock:
            if self.state is not None:  # the filing came meanwhile
                return True
            try:
                stored = await workflow.execute_activity(
                    stored_filing, self.case_id, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=ACTIVITY_RETRY
                )
            except ActivityError as error:  # an incident says so
                workflow.logger.error("stored filing not taken: %s", failure_cause(error))
                return False
            if stored is None:
                return False
            try:
                draft = new_case(self.case_id, stored.request, stored.actor, stored.at, self.service_levels)
            except ValueError as error:
                workflow.logger.error("stored filing not taken: %s", error)
                return False
            workflow.logger.warning("took the filing a lost workflow task stored")
            self._adopt(draft.model_copy(update={"seq": 1, "last_hash": stored.hash}), 0)
            return True

    async def _courier(self) -> None:
        """Cases from before the mail relay (no `mail-leaves-the-case` patch) delivered their e-mails here,
        whenever recording left some waiting; newer ones never set `mail_waiting`, so this only waits."""
        while True:
            await workflow.wait_condition(lambda: self.mail_waiting)
            self.mail_waiting, self.delivering = False, True
            try:
                await workflow.execute_activity(
                    deliver_mail, self.case_id, start_to_close_timeout=MAIL_TIMEOUT, retry_policy=MAIL_RETRY
                )
            except ActivityError as error:
                workflow.logger.error("mail delivery failed for good: %s", failure_cause(error))
            finally:
                self.delivering = False

    async def _wait_for_next_moment(self) -> None:
        """Sleep until the clock's next moment, or until an action changes the case, whichever is first."""
        assert self.state is not None
        seen = self.state.seq
        # Cases started before service-level timers existed keep waiting without them.
        moment = next_moment(self.state.clock) if workflow.patched(SERVICE_LEVEL_TIMERS) else None
        # Newer cases keep their timer through actions that leave the next moment where it was.
        keep_timer = workflow.patched(QUIET_COMMANDS)

        def moved() -> bool:
            assert self.state is not None
            return next_moment(self.state.clock) != moment if keep_timer else self.state.seq != seen

        timeout = None if moment is None else (moment.at - workflow.now()).total_seconds()
        if timeout is None or timeout > 0:
            try:
                await workflow.wait_condition(
                    lambda: moved() or self._should_stop_run(),
                    timeout=timeout,
                    timeout_summary=f"{moment.milestone} of {self.state.stage}" if moment else None,
                )
                return
            except TimeoutError:
                pass
        if moment is None:
            return
        async with self.lock:
            if self.state.seq != seen:  # somebody acted while we waited for the lock
                return
            after, event_type, payload = fire(self.state, moment, workflow.now())
            workflow.logger.info("service level %s in %s", moment.milestone, self.state.stage)
            try:
                await self._record(event_type, SYSTEM_ACTOR, self.state, after, payload)
                return
            except ActivityError as error:
                if not workflow.patched(STEP_FAILURES):
                    raise
                failed = error
        # Recording the timer's event failed for good (an incident says so): try again after a while, or as
        # soon as an operator asks (`alliance incidents retry`) or someone acts on the case.
        workflow.logger.error("service level %s not recorded: %s", moment.milestone, failure_cause(failed))
        self.retry_requested = False
        try:
            await workflow.wait_condition(
                lambda: self.retry_requested or self._should_stop_run() or self._seq() != seen,
                timeout=STEP_BACKOFF, timeout_summary="retry of a failed step",
            )
        except TimeoutError:
            pass

    def _seq(self) -> int:
        return self.state.seq if self.state is not None else 0

    def _should_stop_run(self) -> bool:
        if self.state is None:
            return False
        info = workflow.info()
        long = info.get_current_history_length() >= self.history_limit or info.is_continue_as_new_suggested()
        return self.state.stage == Stage.CLOSED or long

    @workflow.query(name=SNAPSHOT_QUERY)
    def snapshot(self) -> CaseState | None:
        """The case as the workflow holds it (free text as references: the read model has the words)."""
        return self.state

    @workflow.signal(name=RETRY_STEPS_SIGNAL)
    def retry_steps(self) -> None:
        """An operator fixed the cause of a failing step: try it again now."""
        self.retry_requested = True

    def _receipt(self) -> Receipt:
        assert self.state is not None
        return Receipt(seq=self.state.seq, stage=self.state.stage)

    # -- filing -----------------------------------------------------------------------------------

    @workflow.update(name=FILE_UPDATE)
    async def file(self, command: FilingCommand) -> Receipt:
        async with self.lock:
            if self.state is None:
                try:
                    draft = new_case(
                        self.case_id, command.request, command.actor, workflow.now(), self.service_levels
                    )
                except ValueError as error:
                    raise invalid("file", error) from None
                await self._record(events.FILED, command.actor, draft, draft,
                                   command.request.model_dump(mode="json"), claim=command.claim, update=True)
            return self._receipt()

    # -- actions ----------------------------------------------------------------------------------

    @workflow.update(dynamic=True)
    async def act(self, name: str, args: Sequence[RawValue]) -> Receipt:
        async with self.lock:
            # Another Update may have changed the case since validation: decide again under the lock.
            action, command, payload = self._decide(name, args)
            actor = command.actor
            assert self.state is not None
            candidates, ranking = (
                await self._find_candidates(payload) if action == Action.RUN_MATCHING else (None, None)
            )
            after = apply(self.state, actor, action, payload, workflow.now(), candidates)
            await self._record(action, actor, self.state, after, event_payload(action, payload, candidates),
                               ranking, claim=command.claim, update=True)
            return self._receipt()

    @act.validator
    def validate_act(self, name: str, args: Sequence[RawValue]) -> None:
        self._decide(name, args)

    def _decide(self, name: str, args: Sequence[RawValue]) -> tuple[Action, ActionCommand, Payload]:
        """Parse and judge an action against the current case; raise what refuses it."""
        if name not in Action.__members__.values():
            raise ApplicationError(f"unknown action {name}", type=UNKNOWN_ACTION, non_retryable=True)
        action = Action(name)
        if self.state is None:
            raise ApplicationError("the case is not filed yet", type=NOT_FILED, non_retryable=True)
        if len(args) != 1:
            raise ApplicationError("an action takes one argument", type=INVALID, non_retryable=True)
        command = workflow.payload_converter().from_payload(args[0].payload, ActionCommand)
        try:
            payload = parse_payload(action, command.payload)
        except ValidationError as error:
            raise invalid(action, error) from None
        judged = command.actor.model_copy(update={"conflicts": frozenset(command.conflicts)})
        if (refusal := check(self.state, judged, action, payload)) is not None:
            raise refused(refusal)
        return action, command, payload
