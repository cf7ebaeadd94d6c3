"""A reassignment to a user (issue 21): `reassign` may name the assignee by user id, and then the case is in their
"My work". The name and organisation recorded are then the user's, never what the caller typed."""

from __future__ import annotations

from typing import Any

from domain.errors import InvalidInput
from domain.model import Action
from domain.rules import STAFF
from infra.users import person
from services.context import Services


def _refused(field: str, msg: str) -> InvalidInput:
    return InvalidInput([{"loc": ["body", field], "msg": msg, "type": "value_error"}], "Invalid payload")


async def with_named_assignee(services: Services, action: Action, raw: dict[str, Any]) -> dict[str, Any]:
    """The payload of a `reassign` with the user named by `assignee_id` filled in; any other payload as it came."""
    if action != Action.REASSIGN or not isinstance(raw, dict):
        return raw
    if raw.get("assignee_org") is not None:
        raise _refused("assignee_org", "is set from the user named by assignee_id: leave it out")
    user_id = raw.get("assignee_id")
    if user_id is None:
        return raw
    found = await person(services.sessions, str(user_id)) if isinstance(user_id, str) and user_id else None
    if found is None or found.role not in STAFF:
        raise _refused("assignee_id", "give the user id of a member of staff (GET /api/users)")
    return {**raw, "assignee": found.name, "assignee_org": found.org}
