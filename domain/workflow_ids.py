"""How a case is named in Temporal: its workflow id is `case-<case id>` (one definition for every reader)."""

from __future__ import annotations

CASE_WORKFLOW_PREFIX = "case-"


def case_workflow_id(case_id: str) -> str:
    return f"{CASE_WORKFLOW_PREFIX}{case_id}"


def case_of_workflow(workflow_id: str | None) -> str | None:
    """The case a workflow id names, or None when it is not a case's workflow."""
    if workflow_id and workflow_id.startswith(CASE_WORKFLOW_PREFIX):
        return workflow_id.removeprefix(CASE_WORKFLOW_PREFIX)
    return None
