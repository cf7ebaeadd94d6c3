"""What the case workflow puts on its trail when it is told by a signal: a message the mail relay could not deliver,
candidates who withdrew their consent in the registry. Each is recorded once, after the Updates of its task."""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from contracts.case import CONSENT_WITHDRAWN_SIGNAL, MAIL_UNDELIVERABLE_SIGNAL, ConsentWithdrawn, UndeliverableMail
    from domain import events
    from domain.model import SYSTEM_ACTOR, Stage
    from workflows.case_patches import UPDATES_FIRST
    from workflows.case_recording import CaseRecording, failure_cause

REPORTS_KEPT = 20  # undeliverable messages a run remembers having put on the trail (a relay may tell twice)
WITHDRAWALS_KEPT = 50  # withdrawals of consent a case remembers having recorded, across runs (told again: ignored)


class CaseSignals(CaseRecording):
    """The signal handlers of `workflows.case.CaseWorkflow` that record a step."""

    lock: asyncio.Lock
    reported: list[str]
    withdrawals_told: list[str]

    @workflow.signal(name=MAIL_UNDELIVERABLE_SIGNAL)
    async def mail_undeliverable(self, mail: UndeliverableMail) -> None:
        """Put an e-mail the relay could not deliver on the case's trail (once per message, for staff to see)."""
        await self._after_updates()
        async with self.lock:
            told = f"{mail.message}@{mail.failed_at.isoformat() if mail.failed_at else ''}"
            if self.state is None or told in self.reported:
                return
            self.reported = [*self.reported[-(REPORTS_KEPT - 1):], told]
            after = self.state.model_copy(update={"updated_at": workflow.now()})
            try:
                await self._record(events.MAIL_UNDELIVERABLE, SYSTEM_ACTOR, self.state, after,
                                   mail.model_dump(mode="json"))
            except ActivityError as error:  # an incident says so; the relay tells again until it is recorded
                self.reported.remove(told)
                workflow.logger.error("undeliverable mail not recorded: %s", failure_cause(error))

    @workflow.signal(name=CONSENT_WITHDRAWN_SIGNAL)
    async def consent_withdrawn(self, withdrawal: ConsentWithdrawn) -> None:
        """Put on the trail which of the case's candidates withdrew their consent in the registry (an open case
        only: a closed one takes no further step with them). A withdrawal told again (the courier may, after a
        crash between the signal and marking it told) is recorded once: its id is remembered. Signals without an
        id (senders before the durable list) carry no such check, so stored histories replay unchanged."""
        await self._after_updates()
        async with self.lock:
            if self.state is None or self.state.stage == Stage.CLOSED:
                return
            told = withdrawal.withdrawal
            if told is not None and told in self.withdrawals_told:
                return
            named = {candidate.sme_id for candidate in self.state.candidates}
            sme_ids = [sme_id for sme_id in withdrawal.sme_ids if sme_id in named]
            if not sme_ids:
                return
            after = self.state.model_copy(update={"updated_at": workflow.now()})
            try:
                await self._record(events.CONSENT_WITHDRAWN, SYSTEM_ACTOR, self.state, after, {"sme_ids": sme_ids})
            except ActivityError as error:  # an incident says so; the refusals of further steps hold regardless
                workflow.logger.error("withdrawal of consent not recorded: %s", failure_cause(error))
                return
            if told is not None:
                self.withdrawals_told = [*self.withdrawals_told[-(WITHDRAWALS_KEPT - 1):], told]

    async def _after_updates(self) -> None:
        """Let the Updates of this workflow task take the case's lock before a signal's step does. A task that was
        lost after an Update recorded its event (a local activity, issue 15) is run again with that Update after
        any signal that came meanwhile; the signal's event (an ordinary activity, at the same seq) would find the
        Update's event and void it, and the Update record it again, its mail sent twice. Yielding once lets the
        Update's handler, started after the signal's, take the lock and its own event first."""
        if workflow.patched(UPDATES_FIRST):
            await asyncio.sleep(0)
