"""Filters, stable orders and opaque cursors for `GET /api/cases` (and `/api/work`), and the pages they give."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

import structlog
from sqlalchemy import ColumnElement, DateTime, case, func, literal

from domain.errors import BadCursor, Unreplayable
from domain.model import CaseState, Office, Outcome, Stage
from domain.views import DamagedCase
from infra.case_rows import stored_case
from infra.folded_search import contains_folded
from infra.tables import cases

log = structlog.get_logger(__name__)
Sort = Literal["-created", "due"]
FAR_FUTURE = datetime.fromisoformat("9999-12-31T00:00:00+00:00")
EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


PAGE_COLUMNS = (cases.c.id, cases.c.snapshot, cases.c.reference, cases.c.stage)
"""What a page reads of each case's row: `Page.of` takes them."""


class PageRow(Protocol):
    """A row read with `PAGE_COLUMNS`."""

    @property
    def id(self) -> Any: ...
    @property
    def snapshot(self) -> Any: ...
    @property
    def reference(self) -> str | None: ...
    @property
    def stage(self) -> str | None: ...


@dataclass(frozen=True)
class Page:
    """A page of cases: those whose stored record reads as a case, those whose record does not (`DamagedCase`, from
    the row's own columns), and the cursor of the next page (None at the end)."""

    cases: list[CaseState]
    damaged: list[DamagedCase]
    next_cursor: str | None

    @classmethod
    def of(cls, rows: Sequence[PageRow], next_cursor: str | None) -> Page:
        """The page of `rows` (each with `PAGE_COLUMNS`): one case whose record is no case (`stored_case` refuses
        it) is listed as damaged, and the others are shown — it never hides them."""
        found: list[CaseState] = []
        damaged: list[DamagedCase] = []
        for row in rows:
            try:
                found.append(stored_case(row.snapshot, row.id))
            except Unreplayable as error:
                log.error("case record cannot be read back: listed as damaged", case_id=str(row.id))
                damaged.append(DamagedCase(id=str(row.id), reference=row.reference, stage=row.stage,
                                           detail=error.detail))
        return cls(found, damaged, next_cursor)


def epoch(column: ColumnElement[datetime], missing: datetime) -> ColumnElement[Any]:
    """A time column as seconds since 1970 for a sort key; `missing` where the row has none (no due date, or a time
    its owner set NULL: a NULL key compares as nothing, so a page's cursor after it found no page after) or one no
    case is given (±infinity: a key no cursor holds)."""
    finite = case((func.isfinite(column), column))  # NULL for NULL and ±infinity
    return func.extract("epoch", func.coalesce(finite, literal(missing, DateTime(timezone=True))))


def sort_key(sort: Sort) -> ColumnElement[Any]:
    """A numeric, ascending key for every order, so one keyset condition serves them all (ties: case id)."""
    if sort == "due":  # soonest due first, cases without a due date last
        return epoch(cases.c.due_at, FAR_FUTURE)
    return -epoch(cases.c.created_at, EPOCH)  # newest first, a case without a filing time last


def mentions(q: str) -> ColumnElement[bool]:
    """Cases whose company name or reference contains `q`, folded as people type it (`infra.folded_search`)."""
    return contains_folded(q, cases.c.company_name, cases.c.reference)


@dataclass(frozen=True)
class CaseFilters:
    stage: Stage | None = None
    office: Office | None = None
    outcome: Outcome | None = None
    overdue: bool | None = None
    q: str | None = None
    sort: Sort = "-created"
    limit: int = 50
    cursor: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.stage:
            found.append(cases.c.stage == self.stage)
        if self.office:
            found.append(cases.c.offices.contains([str(self.office)]))
        if self.outcome:
            found.append(cases.c.outcome == self.outcome)
        if self.overdue is not None:
            found.append(cases.c.overdue.is_(self.overdue))
        if self.q:
            found.append(mentions(self.q))
        return found


def encode_keys(keys: Sequence[Decimal], case_id: str) -> str:
    """An opaque cursor: the sort keys of the last row of a page, and its case id (the tie-break)."""
    raw = json.dumps([*(str(key) for key in keys), case_id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


# Every sort key is a time in epoch seconds (negated for newest first) or a flag, up to 9999-12-31: a key beyond
# this is no cursor we gave out (and PostgreSQL's numeric could not even hold `1e999999999`).
LARGEST_KEY = Decimal(10**12)


def decode_keys(cursor: str, count: int) -> tuple[list[Decimal], str]:
    """The `count` sort keys and the case id of a cursor; `BadCursor` when it is not one of ours."""
    try:
        *keys, case_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if len(keys) != count:
            raise ValueError("wrong number of keys")
        numbers = [Decimal(key) for key in keys]
        if not all(number.is_finite() and abs(number) <= LARGEST_KEY for number in numbers):
            raise ValueError("a sort key out of range")
        return numbers, str(uuid.UUID(case_id))
    except (ValueError, TypeError, AttributeError, ArithmeticError) as error:
        raise BadCursor() from error


def encode_cursor(key: Decimal, case_id: str) -> str:
    return encode_keys([key], case_id)


def decode_cursor(cursor: str) -> tuple[Decimal, str]:
    (key,), case_id = decode_keys(cursor, 1)
    return key, case_id
