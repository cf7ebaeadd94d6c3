"""Bulk reassignment (issue 21): when someone leaves or changes jobs, their open cases go to a colleague at once.

`POST /api/work/reassign` names the person whose cases move (`from`), the colleague who takes them (`to`), and a
`filter` narrowing which of the open cases assigned to `from` move. Each case is then one `reassign` Update of its
own workflow (one audit event, judged by `domain.rules.check` like any reassignment), and its result is one of
`ReassignOutcome`. Who may start one is `domain.team_rules.bulk_reassignment_refusal`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from domain.base_models import Frozen, Input
from domain.fields import Moment
from domain.model import Actor, Office, Stage
from domain.rules import STAFF


class ReassignmentFilter(Input):
    """Which of the open cases assigned to `from` move; every condition given narrows them, none adds any."""

    stage: Stage | None = Field(None, description="Only cases in this stage")
    office: Office | None = Field(None, description="Only cases relayed to this office")
    overdue: bool | None = Field(None, description="Only overdue cases (true) or only those in time (false)")
    due_before: Moment | None = Field(None, description="Only cases due before this time (with its offset)")


class ReassignmentRequest(Input):
    """The body of `POST /api/work/reassign`."""

    from_id: str = Field(alias="from", min_length=1, max_length=64, description="The user id whose cases move")
    to_id: str = Field(alias="to", min_length=1, max_length=64, description="The user id of who takes them over")
    filter: ReassignmentFilter = Field(default_factory=ReassignmentFilter)


class ReassignOutcome(StrEnum):
    """What became of one case of a bulk reassignment."""

    REASSIGNED = "reassigned"  # its `reassign` Update was applied (exactly once)
    SKIPPED = "skipped"  # no longer assigned to `from` when its turn came (someone else took it meanwhile)
    REFUSED = "refused"  # the rules refused the reassignment (e.g. closed meanwhile, or not the manager's office)
    FAILED = "failed"  # a step kept failing for good (its detail says why; an incident too): the case is as it was


class ReassignmentStatus(StrEnum):
    PLANNING = "planning"  # the matching cases are being listed
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # a step of the job itself failed for good (an incident says which): the rest stays undone


class Reassignment(Frozen):
    """A bulk reassignment as stored: who asked, whose cases go to whom, and how far it is."""

    id: str
    requested_by: Actor
    leaving: Actor = Field(description="The person whose cases move (`from`)")
    taking_over: Actor = Field(description="The colleague who takes them over (`to`)")
    filter: ReassignmentFilter
    status: ReassignmentStatus
    total: int = Field(description="The cases that matched when it started")
    counts: dict[ReassignOutcome, int] = Field(default_factory=dict, description="Cases done so far, by outcome")
    created_at: datetime
    finished_at: datetime | None = None

    @property
    def done(self) -> int:
        return sum(self.counts.values())


def reassignment_problems(leaving: Actor | None, taking_over: Actor | None) -> list[tuple[str, str]]:
    """What is wrong with the people a reassignment names, as (field of the body, what is accepted)."""
    found: list[tuple[str, str]] = []
    if leaving is None:
        found.append(("from", "no such user: give the user id of the person whose cases move (GET /api/users)"))
    if taking_over is None:
        found.append(("to", "no such user: give the user id of the colleague taking over (GET /api/users)"))
    elif leaving is not None and taking_over.id == leaving.id:
        found.append(("to", "the cases already belong to this person: name someone else"))
    elif leaving is not None and (taking_over.org != leaving.org or taking_over.role not in STAFF):
        found.append(("to", f"only a colleague of {leaving.org} (staff) may take over these cases"))
    return found
