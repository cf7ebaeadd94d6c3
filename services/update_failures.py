"""What a case workflow's refusal of an Update means to the desk's caller: a `domain.errors` error."""

from __future__ import annotations

from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ActivityError, ApplicationError

from contracts.errors import KEY_USED, NOT_FILED, STEP_FAILED, UNSTORABLE
from domain.errors import DeskError, InvalidInput, KeyReused, Refused, StepFailed, StillFiling
from domain.idempotency import KeyUse
from domain.rules import Refusal, RefusalKind


def error_from_update_failure(error: WorkflowUpdateFailedError) -> DeskError:
    """What the workflow's refusal of an Update means for the caller (re-raises what it does not know)."""
    cause = error.cause
    while isinstance(cause, ActivityError) and cause.cause is not None:
        cause = cause.cause
    if isinstance(cause, ApplicationError) and cause.type == UNSTORABLE:
        return InvalidInput([], "Invalid payload", str(cause.message))
    if isinstance(cause, ApplicationError) and cause.type == STEP_FAILED:
        details = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
        return StepFailed(str(details.get("step") or "a step"))
    if isinstance(cause, ApplicationError) and cause.type == KEY_USED and cause.details:
        return KeyReused(KeyUse.model_validate(cause.details[0]))
    if isinstance(cause, ApplicationError) and cause.type == NOT_FILED:
        # The read model can be a moment ahead of the workflow (the filing is stored, the workflow has not yet
        # taken in that result; seconds when its worker died). Nothing was applied; the same action shortly will be.
        return StillFiling()
    if isinstance(cause, ApplicationError) and cause.details:
        details = cause.details[0]
        if isinstance(details, dict) and details.get("kind") in RefusalKind.__members__.values():
            if details["kind"] == RefusalKind.INVALID and "errors" in details:
                return InvalidInput(details["errors"], "Invalid payload")
            refusal = Refusal.model_validate(details)
            return Refused(refusal, [])
    raise error

