"""The case desk's use cases: file cases and take actions through Temporal; it reads as `services.case_reads` does.

Every refusal is a `domain.errors` error; the API and the console map them to what their callers see.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from pydantic import ValidationError
from temporalio.client import (
    WithStartWorkflowOperation,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from contracts.case import (
    CASE_WORKFLOW,
    FILE_UPDATE,
    FILE_UPDATE_ID,
    SNAPSHOT_QUERY,
    ActionCommand,
    CaseInput,
    FilingCommand,
    Receipt,
    workflow_id,
)
from domain.conflicts import conflicts_in
from domain.email_addresses import smtputf8_problem
from domain.errors import CaseNotFound, DeskError, InvalidInput, KeyReused, NoSuchAction, Refused
from domain.filing import FilingRequest
from domain.idempotency import FILING, KeyClaim
from domain.model import Action, Actor, CaseState
from domain.payloads import Payload, UpdateContact, parse_payload
from domain.rules import Refusal, RefusalKind, allowed_actions, check, consent_refusal, needing_consent
from domain.texts import Texts, bound_payload, bound_request
from infra.sme_registry import unfit_smes
from infra.temporal import is_running
from infra.texts import keep_texts_alone
from services.assignees import with_named_assignee
from services.case_reads import CaseReads
from services.idempotency import case_id_for, claim_for, earlier_use, legacy_case_id_for
from services.update_failures import error_from_update_failure

log = structlog.get_logger(__name__)
ASKING_THE_WORKFLOW = timedelta(seconds=2)
"""How long a refusal waits for the case's workflow to say what it holds (no worker: the read model's refusal)."""


class CaseDesk(CaseReads):
    """Filing and actions, sent to the case's workflow; and the reads of `CaseReads`, from PostgreSQL."""

    def _mailable(self, email: str, where: list[str], title: str) -> None:
        """Refuse (InvalidInput) an address whose local part needs SMTPUTF8 the mail server does not take."""
        if (problem := smtputf8_problem(email, self.services.settings.smtp_utf8)) is not None:
            raise InvalidInput([{"loc": where, "msg": problem, "type": "value_error"}], title)

    async def file(self, actor: Actor, request: FilingRequest, idempotency_key: str | None) -> CaseState:
        self._mailable(request.contact.email, ["body", "contact", "email"], "Invalid filing")
        body = request.model_dump(mode="json")
        case_id = case_id_for(actor, idempotency_key, body)
        structlog.contextvars.bind_contextvars(case_id=case_id, workflow_id=workflow_id(case_id))
        claim = claim_for(self.services, actor, idempotency_key, case_id, FILING, body)
        # This very filing, recorded already, is sent again all the same (the same Update id, answered once by
        # Temporal): its event may have been written by a workflow task that was lost with its Update (issue 15),
        # and only the Update makes the case's workflow take it; the recording step answers with the stored event.
        if await earlier_use(self.services, claim) is None and idempotency_key is not None:
            # a retry of a filing made before keys were bound to their request
            try:
                return await self.load(legacy_case_id_for(actor, idempotency_key), actor)
            except CaseNotFound:
                pass
        operation: WithStartWorkflowOperation[Any, None] = WithStartWorkflowOperation(
            CASE_WORKFLOW,
            CaseInput(case_id=case_id, service_levels=self.services.settings.service_levels()),
            id=workflow_id(case_id),
            task_queue=self.services.settings.temporal_task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
        bounded, texts = bound_request(body)
        await self._keep(case_id, texts)
        try:
            await self.services.temporal.execute_update_with_start_workflow(
                FILE_UPDATE,
                FilingCommand(actor=actor, request=FilingRequest.model_validate(bounded), claim=claim),
                start_workflow_operation=operation,
                id=FILE_UPDATE_ID,
                result_type=Receipt,
            )
        except WorkflowAlreadyStartedError:  # the same key after the case closed: it is that case
            return await self.load(case_id, actor)
        except WorkflowUpdateFailedError as error:
            await self._unless_applied(error_from_update_failure(error), claim)
        await earlier_use(self.services, claim)  # a different filing that raced this one with the same key
        state = await self.load(case_id, actor)  # recorded before the Update answered
        log.info("case filed", reference=state.reference)
        return state

    async def _consent_refusal(self, state: CaseState, action: Action, payload: Payload) -> Refusal | None:
        """The registry is asked at the moment of the step: consent withdrawn, or the company closed, since
        matching refuses it."""
        wanted = needing_consent(action, payload)
        if not wanted:
            return None
        withdrawn, closed = await unfit_smes(self.services.lone_statements, wanted)
        return consent_refusal(state, action, withdrawn, closed)

    async def _keep(self, case_id: str, texts: Texts) -> None:
        """Keep the free text of what is about to be sent to the case's workflow, which gets references."""
        await keep_texts_alone(self.services.lone_statements, case_id, texts)

    async def act(
        self, case_id: str, actor: Actor, action_name: str, raw: dict[str, Any], idempotency_key: str | None = None
    ) -> CaseState:
        state = await self.load(case_id, actor)
        structlog.contextvars.bind_contextvars(case_id=case_id, workflow_id=workflow_id(case_id))
        if action_name not in Action.__members__.values():
            raise NoSuchAction(action_name)
        action = Action(action_name)
        raw = await with_named_assignee(self.services, action, raw)
        try:
            payload = parse_payload(action, raw)
        except ValidationError as error:
            raise InvalidInput([dict(e) for e in error.errors(include_url=False)], "Invalid payload") from None
        if isinstance(payload, UpdateContact):
            self._mailable(payload.email, ["body", "email"], "Invalid payload")
        sent = payload.model_dump(mode="json")
        claim = claim_for(self.services, actor, idempotency_key, case_id, action, sent)
        refusal = check(state, actor, action, payload)
        if refusal is not None and (held := await self._as_its_workflow_holds_it(case_id, state)) is not None:
            state, refusal = held, check(held, actor, action, payload)
        if refusal is not None and refusal.kind in (RefusalKind.NOT_VISIBLE, RefusalKind.FORBIDDEN):
            raise Refused(refusal, allowed_actions(state, actor))  # who may act is asked before any key
        # This very request, applied already? Then whether it is legal in the stage is not asked again (the case
        # has moved on since, by this request itself), and it is sent again all the same: in this run the same
        # Update id waits until the workflow has it too, so the answer never runs ahead of the workflow.
        applied = await earlier_use(self.services, claim) is not None
        if refusal is not None and not applied:  # with or without a key: a key never masks a refusal
            raise Refused(refusal, allowed_actions(state, actor))
        if not applied and (refusal := await self._consent_refusal(state, action, payload)) is not None:
            raise Refused(refusal, allowed_actions(state, actor))
        handle = self.services.temporal.get_workflow_handle(workflow_id(case_id))
        bounded, texts = bound_payload(action, sent)
        await self._keep(case_id, texts)
        try:
            # In flight or done in this run, the same key is the same Update (Temporal answers it once); done in
            # an earlier run, the recording step finds the key taken and nothing is applied twice.
            # The request's fingerprint is part of the id: Temporal keeps an Update's outcome for the whole run,
            # so a key sent with another request (after it expired, or after a step failed) is another Update.
            update_id = f"{actor.id}:{idempotency_key}:{claim.fingerprint[:16]}" if claim else None
            receipt = await handle.execute_update(
                action_name,
                ActionCommand(actor=actor, payload=bounded, claim=claim, conflicts=conflicts_in(state, actor)),
                id=update_id, result_type=Receipt,
            )
        except RPCError as error:
            if applied and error.status == RPCStatusCode.NOT_FOUND:  # its workflow has ended since
                return await self.load(case_id, actor)
            raise
        except WorkflowUpdateFailedError as error:
            if applied:  # applied in an earlier run, which this run refuses again: nothing is applied twice
                return await self.load(case_id, actor)
            failure = error_from_update_failure(error)
            if isinstance(failure, Refused) and failure.refusal.kind == RefusalKind.ILLEGAL_STAGE:
                # the case moved on between our read and the workflow's decision
                fresh = await self.load(case_id, actor)
                failure = Refused(failure.refusal, allowed_actions(fresh, actor), stage=fresh.stage)
            await self._unless_applied(failure, claim)
            return await self.load(case_id, actor)
        await earlier_use(self.services, claim)  # another request with this key, answered by Temporal as one
        log.info("action taken", action=action_name, stage=receipt.stage, seq=receipt.seq)
        return await self.load(case_id, actor)  # recorded before the Update answered

    async def _as_its_workflow_holds_it(self, case_id: str, shown: CaseState) -> CaseState | None:
        """The case as its running workflow holds it, when the read model (`shown`) is ahead of it: it shows events
        recorded in a workflow task that was lost, which the case never took and its next recording voids
        (`domain.voiding`); else None. Asked only of a refused action: the workflow judges it again in any case."""
        handle = self.services.temporal.get_workflow_handle(workflow_id(case_id))
        try:
            if not await is_running(self.services.temporal, workflow_id(case_id), ASKING_THE_WORKFLOW):
                return None  # a workflow that finished took every event its read model shows
            held: CaseState | None = await handle.query(SNAPSHOT_QUERY, result_type=CaseState,
                                                        rpc_timeout=ASKING_THE_WORKFLOW)
        except (RPCError, WorkflowQueryFailedError, WorkflowQueryRejectedError) as error:
            log.warning("the case's workflow could not be asked for its case", error=str(error)[:300])
            return None
        if held is None or held.seq >= shown.seq:
            return None
        log.warning("the read model shows events the case's workflow never took", shown=shown.seq, held=held.seq)
        return held

    async def _unless_applied(self, failure: DeskError, claim: KeyClaim | None) -> None:
        """Raise the failure, unless it only says that this very keyed request was applied before."""
        if isinstance(failure, KeyReused) and claim is not None and failure.first.fingerprint == claim.fingerprint:
            return
        raise failure
