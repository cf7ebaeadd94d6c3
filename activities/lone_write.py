"""The common recording in one statement: an event, the read model's row and the outbox rows it makes, written
together in autocommit, without BEGIN and COMMIT round trips (issue 15).

PostgreSQL runs every data-modifying WITH of a statement, and one statement is atomic: the read model's row and the
outbox rows are written only when the event is (`WHERE EXISTS` the event's row), so an event whose (case, seq) was
taken meanwhile writes nothing at all, as a rolled-back transaction would. `activities.records` takes this way for
an event with no Idempotency-Key, no earlier try and no other row to touch (a corrected contact's mail, a reported
undeliverable message); every other event keeps its transaction.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Table, bindparam, exists, func, literal_column, select, union_all
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.audit import AuditEntry
from domain.model import CaseState
from infra.case_rows import case_row
from infra.tables import audit_events, cases, notifications

MOST_TOLD = 64
"""The most outbox rows the one statement carries (ten parameters each, and a statement per number of them):
an event that tells more is written in the transaction (`activities.records`), one row per execution. asyncpg
sends at most 32767 parameters a statement; past that the step failed as if the database were away, for ever."""


def bound_columns(prefix: str, table: Table, names: tuple[str, ...]) -> dict[str, Any]:
    """`table`'s columns `names` as bound parameters `<prefix><name>` of their types, by column name."""
    return {name: bindparam(f"{prefix}{name}", type_=table.c[name].type) for name in names}


def _bound(prefix: str, table: Table, names: tuple[str, ...]) -> list[Any]:
    return [param.label(name) for name, param in bound_columns(prefix, table, names).items()]


def row_parameters(event: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
    """The parameters of an event's row and its case's read-model row: `event_<column>` and `case_<column>`."""
    return ({f"event_{name}": value for name, value in event.items()}
            | {f"case_{name}": value for name, value in case.items()})


@functools.lru_cache(maxsize=64)  # a statement per shape of row and number of people told: a few
def _lone_write(event_columns: tuple[str, ...], case_columns: tuple[str, ...], outbox_columns: tuple[str, ...],
                told: int) -> Any:
    """The statement: parameters `event_<column>`, `case_<column>` and `told<i>_<column>` for each of `told`
    outbox rows; it answers how many events it wrote (1, or 0 when the (case, seq) was taken)."""
    event = (
        insert(audit_events)
        .from_select(list(event_columns), select(*_bound("event_", audit_events, event_columns)))
        .on_conflict_do_nothing(index_elements=[audit_events.c.case_id, audit_events.c.seq])
        .returning(audit_events.c.seq)
        .cte("event")
    )
    written = exists(select(literal_column("1")).select_from(event))
    upsert = insert(cases).from_select(list(case_columns),
                                       select(*_bound("case_", cases, case_columns)).where(written))
    model = upsert.on_conflict_do_update(
        index_elements=[cases.c.id],
        set_={name: upsert.excluded[name] for name in case_columns if name not in ("id", "created_at")},
        where=cases.c.seq < upsert.excluded.seq,
    ).returning(cases.c.id).cte("model")
    ctes = [model]
    if told:
        rows = union_all(*[select(*_bound(f"told{i}_", notifications, outbox_columns)).where(written)
                           for i in range(told)])
        ctes.append(insert(notifications).from_select(list(outbox_columns), rows).on_conflict_do_nothing()
                    .returning(notifications.c.id).cte("told"))
    return select(select(func.count()).select_from(event).scalar_subquery()).add_cte(*ctes)


async def write_alone(conn: AsyncConnection, entry: AuditEntry, state: CaseState, told: list[dict[str, Any]]) -> bool:
    """Write the event, the case's row and the outbox rows `told` (`activities.outbox.outbox_rows`) in one
    statement on `conn`, an autocommit connection (`infra.db.autocommit`); False, and nothing written, when the
    event's (case, seq) is taken."""
    event, case = entry.model_dump(), case_row(state)
    params = row_parameters(event, case)
    outbox_columns = tuple(told[0]) if told else ()
    for i, row in enumerate(told):
        params.update({f"told{i}_{name}": row[name] for name in outbox_columns})
    statement = _lone_write(tuple(event), tuple(case), outbox_columns, len(told))
    return bool(await conn.scalar(statement, params))
