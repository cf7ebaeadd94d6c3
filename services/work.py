"""A person's work (issue 21): their open cases, then their queue, by urgency; and taking the next case.

"Mine" are the open cases assigned to the person (`assignee_id`); the queue is what waits on their organisation
(`infra.queues`) and, for an office, nobody has claimed. Urgency: overdue first, then soonest due, then oldest
filed; ties by case id, so pages are stable (keyset cursors, as `GET /api/cases`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import ColumnElement, Integer, Numeric, case, false, literal, or_, select, tuple_

from domain.errors import Refused, Unreplayable
from domain.model import Action, Actor, CaseState, Stage
from domain.rules import RefusalKind
from infra.delegations import standing_in_for
from infra.queues import in_queue_of
from infra.tables import cases
from infra.visibility import visible_to
from services.case_desk import CaseDesk
from services.listing import FAR_FUTURE, PAGE_COLUMNS, Page, decode_keys, encode_keys, epoch, mentions

log = structlog.get_logger(__name__)
HEAD = 10
"""How many of the queue's most urgent cases `take_next` reads first; each further read takes twice as many."""
WIDEST_HEAD = 500
"""The most cases `take_next` reads at a time."""


@dataclass(frozen=True)
class WorkFilters:
    stage: Stage | None = None
    overdue: bool | None = None
    due_before: datetime | None = None
    q: str | None = None
    limit: int = 50
    cursor: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.stage is not None:
            found.append(cases.c.stage == self.stage)
        if self.overdue is not None:
            found.append(cases.c.overdue.is_(self.overdue))
        if self.due_before is not None:
            found.append(cases.c.due_at < self.due_before)
        if self.q:
            found.append(mentions(self.q))
        return found


def urgency(mine: ColumnElement[bool]) -> list[ColumnElement[Any]]:
    """The order of "My work", as numbers ascending: mine first, overdue first, soonest due, oldest filed."""
    return [
        case((mine, 0), else_=1),
        case((cases.c.overdue, 0), else_=1),
        epoch(cases.c.due_at, FAR_FUTURE),
        epoch(cases.c.created_at, FAR_FUTURE),  # a case without a filing time (its owner set it NULL) last
    ]


async def my_work(desk: CaseDesk, actor: Actor, filters: WorkFilters) -> Page:
    """One page of the person's open cases and then their queue (those whose stored record is no case listed as
    damaged), and the next page's cursor.

    Mine are also the cases of the people I stand in for now (a delegation in force), and, acting for one of
    them (`On-Behalf-Of`), the queue is theirs."""
    away = await standing_in_for(desk.services.sessions, actor.id, datetime.now(UTC))
    mine = cases.c.assignee_id.in_(sorted(actor.people | {d.delegator.id for d in away}))
    keys = urgency(mine)
    query = select(*(key.label(f"k{i}") for i, key in enumerate(keys)), *PAGE_COLUMNS).where(
        visible_to(actor), cases.c.stage != Stage.CLOSED, or_(mine, in_queue_of(actor.principal)),
        *filters.conditions(),
    )
    if filters.cursor is not None:
        after, after_id = decode_keys(filters.cursor, len(keys))
        query = query.where(tuple_(*keys, cases.c.id) > tuple_(
            *(literal(value, Integer() if i < 2 else Numeric()) for i, value in enumerate(after)),
            literal(after_id, cases.c.id.type),
        ))
    query = query.order_by(*keys, cases.c.id).limit(filters.limit + 1)
    async with desk.services.sessions() as session:
        rows = (await session.execute(query)).all()
    page, more = rows[: filters.limit], len(rows) > filters.limit
    last = page[-1] if more and page else None
    next_cursor = encode_keys(list(last[:len(keys)]), str(last.id)) if last is not None else None
    return Page.of(page, next_cursor)


async def queue_head(desk: CaseDesk, actor: Actor, count: int, passed: Collection[str] = ()) -> list[str]:
    """The ids of the `count` most urgent unclaimed cases of the person's queue, but those `passed` over."""
    keys = urgency(false())[1:]
    query = (
        select(cases.c.id)
        .where(visible_to(actor), cases.c.stage != Stage.CLOSED, in_queue_of(actor.principal),
               cases.c.id.not_in(sorted(passed)))
        .order_by(*keys, cases.c.id)
        .limit(count)
    )
    async with desk.services.sessions() as session:
        return [str(case_id) for case_id in (await session.scalars(query)).all()]


async def take_next(desk: CaseDesk, actor: Actor) -> CaseState | None:
    """Claim the most urgent unclaimed case of the person's queue; None when the queue is empty.

    Two callers at once are safe: each claim is an Update the case's workflow decides under its lock, so of two
    claims of one case the second is refused (409, "already assigned") and its caller moves on to the next case.
    A case whose stored record is no case (`Unreplayable`) is passed over, as the work list shows it damaged, and the
    queue is read on after it, and after any number of them: damaged cases on top of the queue never hide the
    intact ones below them. Each read of the queue leaves out every case read before, so reading ends.
    """
    passed: set[str] = set()  # every case read is claimed or passed over: each read of the queue goes further
    count = HEAD
    while head := await queue_head(desk, actor, count, passed):
        for case_id in head:
            try:
                return await desk.act(case_id, actor, Action.CLAIM, {})
            except Refused as refusal:
                if refusal.refusal.kind != RefusalKind.ILLEGAL_STAGE:
                    raise
                log.info("queued case taken meanwhile", case_id=case_id)
            except Unreplayable:  # its stored record is no case (listed as damaged): the next one
                log.error("queued case's record cannot be read back: passed over", case_id=case_id)
            passed.add(case_id)
        count = min(count * 2, WIDEST_HEAD)
    return None
