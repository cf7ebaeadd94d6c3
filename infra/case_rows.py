"""The read model's row of a case (`cases`), written with each of its events."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.door import as_stored
from domain.errors import Unreplayable
from domain.model import CaseState
from infra.db import driver_row
from infra.tables import cases

_SNAPSHOT = "SELECT snapshot::text FROM cases WHERE id = $1::uuid"


async def snapshot_of(engine: AsyncEngine, case_id: str) -> Any:
    """The case's read-model record (`cases.snapshot`) as JSON values, None when there is no such case: read by the
    driver (`infra.db.driver_row`), as every action reads it twice (issue 15). `case_id` must be a UUID."""
    row = await driver_row(engine, _SNAPSHOT, case_id)
    return None if row is None or row[0] is None else json.loads(row[0])


def stored_case(snapshot: Any, case_id: object) -> CaseState:
    """The case a read model's row holds (its `snapshot`, read as stored: `domain.door.as_stored`); `Unreplayable`
    naming the case when the row holds none (its owner altered it: JSON of another shape), or holds another case
    (a record copied across rows: shown, it would show that case to whoever may see this row), never a crash."""
    try:
        with as_stored():
            state: CaseState | None = CaseState.model_validate(snapshot)
    except ValidationError:
        state = None
    if state is None or state.id != str(case_id):
        what = "not a case" if state is None else "another case's"
        raise Unreplayable(f"case {case_id} cannot be read back: its stored record (the read model's snapshot) is "
                           f"{what}, so it was altered; its audit trail still holds what happened")
    return state


def case_row(state: CaseState) -> dict[str, Any]:
    """The read model's row of the case, column by column."""
    return {
        "id": state.id,
        "reference": state.reference,
        "stage": state.stage,
        "outcome": state.outcome,
        "applicant_org": state.applicant_org,
        "company_name": state.request.company.name,
        "offices": [r.office for r in state.offices],
        "lead_office": state.lead_office,
        "assignee": state.assignee,
        "assignee_id": state.assignee_id,
        "due_at": state.due_at,
        "overdue": state.overdue,
        "escalation_level": state.escalation_level,
        "paused": state.paused,
        "seq": state.seq,
        "snapshot": state.model_dump(mode="json"),
        "created_at": state.created_at,
        "updated_at": state.updated_at,
    }


def case_upsert(state: CaseState) -> Any:
    """The statement writing the read model's row of the case; it only ever moves forward (a replayed older event
    changes nothing)."""
    row = case_row(state)
    upsert = insert(cases).values(row)
    return upsert.on_conflict_do_update(
        index_elements=[cases.c.id],
        set_={k: upsert.excluded[k] for k in row if k not in ("id", "created_at")},
        where=cases.c.seq < upsert.excluded.seq,
    )
