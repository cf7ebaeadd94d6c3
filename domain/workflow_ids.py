"""How a case is named in Temporal: its workflow id is `case-<case id>` (one definition for every reader)."""

from __future__ import annotations

import re

CASE_WORKFLOW_PREFIX = "case-"
CASE_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
"""A case id as the desk gives them out (`is_case_id`), for a query parameter's `pattern`."""
_CASE_ID = re.compile(CASE_ID_PATTERN)


def is_case_id(text: str) -> bool:
    """Whether `text` is a case id as the desk gives them out and stores them: a UUID in its canonical spelling
    (`str(uuid.UUID(...))`, lowercase and hyphenated). Python's `uuid.UUID` also takes braces, `urn:uuid:`, capitals
    and no hyphens, and PostgreSQL's `uuid` braces, capitals and no hyphens: such a spelling names no case (one
    address per case), and never reaches a query (`urn:uuid:` there was a 500)."""
    return _CASE_ID.fullmatch(text) is not None


def case_workflow_id(case_id: str) -> str:
    return f"{CASE_WORKFLOW_PREFIX}{case_id}"


def case_of_workflow(workflow_id: str | None) -> str | None:
    """The case a workflow id names, or None when it is not a case's workflow."""
    if workflow_id and workflow_id.startswith(CASE_WORKFLOW_PREFIX):
        return workflow_id.removeprefix(CASE_WORKFLOW_PREFIX)
    return None
