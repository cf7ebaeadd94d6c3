"""How the case workflow records a step: the ranking it takes the candidates from, the event and the refreshed read
model written by one activity (a local one for an Update's), and the recorded case adopted, its search attributes
kept current."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from contracts import search_attributes as sa
    from contracts.activities import (
        EventHeader,
        FindCandidates,
        RecordCaseEvent,
        RecordEvent,
        find_candidates,
        rank_candidates,
        record_case_event,
        record_event,
    )
    from domain.audit import make_entry
    from domain.idempotency import KeyClaim
    from domain.model import Actor, Candidate, CaseState
    from domain.notifications import notice
    from domain.payloads import MatchingCriteria, Payload
    from workflows.case_patches import BOUNDED_CASE, LOCAL_RECORDING, MAIL_RELAY, PERSONAL_DATA_SALT, QUIET_COMMANDS

ACTIVITY_TIMEOUT = timedelta(seconds=30)
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=30))


class CaseRecording:
    """The recording steps of `workflows.case.CaseWorkflow`, which holds the case they record."""

    case_id: str
    state: CaseState | None
    mail_waiting: bool
    indexed: tuple[object, ...] | None

    async def _find_candidates(self, criteria: Payload) -> tuple[list[Candidate], str | None]:
        """The ranked candidates (by id and score only, and where the full ranking is kept, for newer cases)."""
        assert self.state is not None and isinstance(criteria, MatchingCriteria)
        command = FindCandidates(seeking=self.state.request.seeking, criteria=criteria)
        if workflow.patched(BOUNDED_CASE):
            ranked = await workflow.execute_activity(
                rank_candidates, command, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=ACTIVITY_RETRY
            )
            return ranked.candidates, ranked.ref
        legacy = await workflow.execute_activity(
            find_candidates, command, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=ACTIVITY_RETRY
        )
        return legacy, None

    async def _record(
        self, event_type: str, actor: Actor, before: CaseState, after: CaseState, payload: dict[str, Any],
        ranking: str | None = None, *, claim: KeyClaim | None = None, update: bool = False,
    ) -> None:
        """Write the event and the refreshed read model (one activity, one transaction), then adopt it.

        An Update's event (`update`) is written by a local activity in the workflow task that accepts the Update:
        one task per action instead of two, about half of Temporal's work (issue 15). Should that task be lost
        after the event committed, the Update delivered again records the same event, which the step answers with;
        one never delivered again left an event the case did not take, which the next recording voids
        (`domain.voiding`): the answer's seq is then past the voiding. Timers' and signals' events stay ordinary
        activities, scheduled only once the task that decided them is in the history."""
        if workflow.patched(BOUNDED_CASE):
            header = EventHeader(
                case_id=self.case_id, seq=before.seq + 1, type=event_type, actor=actor.model_dump(mode="json"),
                at=after.updated_at, stage_before=before.stage if before.seq else None, stage_after=after.stage,
                prev_hash=before.last_hash,
                salt=workflow.uuid4().hex if workflow.patched(PERSONAL_DATA_SALT) else None,
            )
            numbered = after.model_copy(update={"seq": header.seq})
            command = RecordCaseEvent(header=header, payload=payload, state=numbered, candidates_ref=ranking,
                                      claim=claim)
            if update and workflow.patched(LOCAL_RECORDING):
                stored = await workflow.execute_local_activity(
                    record_case_event, command, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=ACTIVITY_RETRY
                )
            else:
                stored = await workflow.execute_activity(
                    record_case_event, command, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=ACTIVITY_RETRY
                )
            recorded = numbered.model_copy(update={"seq": stored.seq or header.seq, "last_hash": stored.hash})
            self._adopt(recorded, stored.waiting)
            return
        entry = make_entry(
            case_id=self.case_id,
            seq=before.seq + 1,
            type=event_type,
            actor=actor.model_dump(mode="json"),
            at=after.updated_at,
            stage_before=before.stage if before.seq else None,
            stage_after=after.stage,
            payload=payload,
            prev_hash=before.last_hash,
            # Hash version 2 keeps personal data erasable later; events recorded before it keep version 1.
            salt=workflow.uuid4().hex if workflow.patched(PERSONAL_DATA_SALT) else None,
        )
        recorded = after.model_copy(update={"seq": entry.seq, "last_hash": entry.hash})
        waiting = await workflow.execute_activity(
            record_event,
            RecordEvent(entry=entry, state=recorded, notice=notice(event_type, before, recorded, payload)),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        self._adopt(recorded, waiting)

    def _adopt(self, recorded: CaseState, waiting: int) -> None:
        self.state = recorded
        if waiting and not workflow.patched(MAIL_RELAY):
            self.mail_waiting = True
        self._index(recorded)

    def _index(self, recorded: CaseState) -> None:
        """Keep the case's search attributes current; newer cases only send them when they change."""
        indexed = (recorded.stage, recorded.outcome, tuple(r.office for r in recorded.offices), recorded.due_at,
                   recorded.overdue, recorded.escalation_level)
        if workflow.patched(QUIET_COMMANDS) and indexed == self.indexed:
            return
        self.indexed = indexed
        workflow.upsert_search_attributes(
            [
                sa.CASE_STAGE.value_set(recorded.stage),
                sa.CASE_OUTCOME.value_set(recorded.outcome or ""),
                sa.CASE_OFFICES.value_set([r.office for r in recorded.offices]),
                sa.CASE_REFERENCE.value_set(recorded.reference),
                sa.CASE_DUE_AT.value_set(recorded.due_at) if recorded.due_at else sa.CASE_DUE_AT.value_unset(),
                sa.CASE_OVERDUE.value_set(recorded.overdue),
                sa.CASE_ESCALATION.value_set(recorded.escalation_level),
            ]
        )


def failure_cause(error: BaseException) -> str:
    """The innermost failure's message, for a log line."""
    while error.__cause__ is not None:
        error = error.__cause__
    return str(error)[:500]
