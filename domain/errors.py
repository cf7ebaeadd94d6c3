"""What a use case can refuse, as domain errors: services raise these, `api/problems.py` maps each to HTTP once
(and the console shows the same mapping on its pages).

Each carries a one-line `detail` a person can act on; none knows about HTTP.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.idempotency import FILING, KeyUse
from domain.rules import Refusal


class DeskError(Exception):
    """Base of every refusal a use case raises; `detail` is the sentence shown to the caller."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class CaseNotFound(DeskError):
    """No such case, or the caller may not see it (the two are indistinguishable on purpose)."""

    def __init__(self, detail: str = "no such case") -> None:
        super().__init__(detail)


class NotFiledYet(DeskError):
    """`as_of` asked for a moment before the case was filed."""


class NoSuchAction(DeskError):
    """An action name that `domain.model.Action` does not know."""

    def __init__(self, action: str) -> None:
        super().__init__(f"there is no action {action!r}")
        self.action = action


class Forbidden(DeskError):
    """The caller's role may not do this at all (a gate outside the action table, `domain.rules` role sets)."""


class Refused(DeskError):
    """The rules refused the action (`domain.rules.check`): its `Refusal`, and what the caller may do instead."""

    def __init__(self, refusal: Refusal, allowed: Sequence[str], stage: str | None = None) -> None:
        super().__init__(refusal.detail)
        self.refusal = refusal
        self.allowed = [str(a) for a in allowed]
        self.stage = stage if stage is not None else str(refusal.stage)


class InvalidInput(DeskError):
    """Input that does not fit: `errors` as pydantic reports them (`loc`, `msg`, `type`)."""

    def __init__(self, errors: Sequence[dict[str, Any]], title: str = "Invalid request", detail: str = "") -> None:
        super().__init__(detail or title)
        self.errors = list(errors)
        self.title = title


class StillFiling(DeskError):
    """The case is stored but its workflow has not taken the filing in yet: the same request shortly will work."""

    def __init__(self) -> None:
        super().__init__("the case is still being filed; send the action again shortly")


class BadCursor(DeskError):
    """A page cursor this service did not give out."""

    def __init__(self) -> None:
        super().__init__("the cursor is not one this API gave out")


class StepFailed(DeskError):
    """A step of the action (matching, recording) failed for good: nothing was recorded, the case is as it
    was and still open to every other action; operators see the failure as an incident."""

    def __init__(self, step: str) -> None:
        super().__init__(f"{step} could not be completed, so the action was not taken and the case is unchanged; "
                         "the failure is reported to the operators (incidents)")
        self.step = step


class KeyReused(DeskError):
    """An Idempotency-Key sent again with a different request than the one it was first used for."""

    def __init__(self, first: KeyUse) -> None:
        action = "filing the case" if first.action == FILING else first.action
        super().__init__(f"this Idempotency-Key was first used for {action} on case {first.case_id}; "
                         "a different request needs a new key")
        self.first = first


class Unreplayable(DeskError):
    """The audit trail holds an event today's rules cannot read back."""


class HistoryUnavailable(DeskError):
    """Temporal no longer keeps (or cannot give) the workflow history a cross-check needs."""
