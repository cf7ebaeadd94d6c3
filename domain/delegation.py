"""Standing in while someone is away (issue 21): who may delegate to whom, and for how long.

A member of staff names a colleague of their own organisation (`delegate`) for a period (`starts_at` to `ends_at`);
in that period the delegate sees and may act on the delegator's cases, with the delegate's own rights intersected
with the delegator's (`domain.rules.check` judges an `Actor` with `on_behalf_of` so). A delegation ends by itself
at `ends_at` and can be cancelled at any time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import Field

from domain.base_models import Frozen, Input
from domain.fields import Moment
from domain.model import Actor
from domain.rules import STAFF

LONGEST = timedelta(days=366)
"""The longest a delegation may last: a year's leave (a longer absence is a reassignment)."""


class DelegationRequest(Input):
    """The body of `PUT /api/me/delegation`."""

    delegate: str = Field(min_length=1, max_length=64, description="The user id of the colleague who stands in")
    starts_at: Moment = Field(alias="from", description="When the delegation starts (with its offset)")
    ends_at: Moment = Field(alias="until", description="When it ends by itself (with its offset)")


class Delegation(Frozen):
    """A delegation as stored and shown: who stands in for whom, from when until when."""

    delegator: Actor
    delegate: Actor
    starts_at: datetime
    ends_at: datetime

    def in_force(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at


def delegation_problems(delegator: Actor, delegate: Actor | None, request: DelegationRequest,
                        now: datetime) -> list[tuple[str, str]]:
    """What is wrong with a delegation, as (field of the body, what is accepted); empty when it may be made."""
    found: list[tuple[str, str]] = []
    if delegate is None:
        found.append(("delegate", "no such user: give the id of a colleague (GET /api/users)"))
    elif delegate.id == delegator.id:
        found.append(("delegate", "a person cannot stand in for themself"))
    elif delegate.org != delegator.org or delegate.role not in STAFF:
        found.append(("delegate", f"only a colleague of {delegator.org} (staff) may stand in for you"))
    if request.ends_at <= request.starts_at:
        found.append(("until", "must be after `from`"))
    elif request.ends_at <= now:
        found.append(("until", "must be in the future"))
    elif request.ends_at - request.starts_at > LONGEST:
        found.append(("until", f"a delegation lasts at most {LONGEST.days} days"))
    return found
