"""Determinism: stored histories of representative cases replay against the current workflow code.

A change to the workflow that alters its commands must be guarded by `workflow.patched`; without it,
these replays fail CI. `RECORD_HISTORIES=1 pytest tests/e2e/test_replay.py` re-records the stored ones.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from contracts.case import workflow_id
from tests.helpers.desk import Desk
from tests.helpers.people import APPLICANT, COORDINATOR, FUND_MEMBER, SBIC, SCB, SJ, manager, officer
from tests.helpers.registry import recorded_withdrawals, registered, set_consent
from tests.helpers.scenarios import to_investment_decision, to_matching
from workers.case_worker import workflow_runner
from workflows.case import CaseWorkflow

HISTORIES = Path(__file__).parents[1] / "histories"


def replayer(*, sandboxed: bool = True) -> Replayer:
    """The sandbox by default (it catches a non-deterministic call in workflow code); unsandboxed as the product's
    worker runs (`WorkerTuning.sandboxed`)."""
    return Replayer(workflows=[CaseWorkflow], data_converter=pydantic_data_converter,
                    workflow_runner=workflow_runner() if sandboxed else UnsandboxedWorkflowRunner())


async def funded(desk: Desk) -> dict[str, Any]:
    case = await to_investment_decision(desk)
    await desk.ok(case, "return_proposal", FUND_MEMBER, comments="smaller ticket")
    await desk.ok(case, "propose_investment", officer(SBIC), route="fund_lp",
                  amount_jpy=90_000_000, rationale="revised")
    await desk.ok(case, "approve_investment", FUND_MEMBER)
    return case


async def declined(desk: Desk) -> dict[str, Any]:
    case = await desk.file(APPLICANT)
    await desk.ok(case, "request_info", COORDINATOR, questions=["Which markets?"])
    await desk.ok(case, "provide_info", APPLICANT, answer="EU")
    await desk.ok(case, "relay", COORDINATOR, offices=[SJ, SCB])
    await desk.ok(case, "decline_case", officer(SJ), reason="capacity")
    await desk.ok(case, "decline_case", officer(SCB), reason="field")
    return case


async def withdrawn_while_paused(desk: Desk) -> dict[str, Any]:
    case = await to_matching(desk)
    await desk.ok(case, "add_note", officer(SBIC), text="internal")
    await desk.ok(case, "pause", manager(SBIC), reason="patent search")
    await desk.ok(case, "withdraw", APPLICANT, reason="strategy")
    return case


async def told_of_withdrawals(desk: Desk) -> dict[str, Any]:
    """Two of the case's candidates withdraw their consent (two imports, two signals), then the case goes on."""
    case = await to_matching(desk)
    matched = await desk.ok(case, "run_matching", officer(SBIC), limit=5)
    entries = [await registered(desk, c["sme_id"]) for c in matched["candidates"][:2]]
    try:
        for told, sme in enumerate(entries, start=1):
            await set_consent(desk, sme, False)
            assert len(await recorded_withdrawals(desk, case, told)) == told
    finally:
        for sme in entries:
            await set_consent(desk, sme, True)
    await desk.ok(case, "add_note", officer(SBIC), text="two candidates withdrew")
    await desk.ok(case, "close_no_match", officer(SBIC), reason="none left")
    return case


SCENARIOS: dict[str, Callable[[Desk], Awaitable[dict[str, Any]]]] = {
    "funded_after_return": funded,
    "declined_after_questions": declined,
    "withdrawn_while_paused": withdrawn_while_paused,
    "told_of_withdrawals": told_of_withdrawals,
}
VERSIONED = ["funded_after_return", "declined_after_questions", "withdrawn_while_paused"]
"""The scenarios recorded under every earlier workflow version (v1- to v5-)."""


def test_stored_histories_exist_for_every_scenario() -> None:
    """Current recordings of every scenario, plus those of earlier workflow versions: v1- (before
    service-level timers), v2- (before timers and search attributes were sent only when they change), v3-
    (before personal data was kept apart under a salt, hash version 2), v4- (before free text left the workflow
    and was hashed by the recording step: `bounded-case-state`), v5- (before the mail relay: the workflow
    delivered its own e-mails, `mail-leaves-the-case`); v6-told_of_withdrawals (before withdrawals of consent
    carried their id, so a withdrawal told twice is recorded once); and v7- of every scenario (before an Update's
    event was recorded by a local activity in the task that accepts it, `updates-record-locally`)."""
    stored = {p.stem for p in HISTORIES.glob("*.json")}
    assert set(SCENARIOS) <= stored
    assert {f"{version}-{name}" for name in VERSIONED for version in ("v1", "v2", "v3", "v4", "v5")} <= stored
    assert "v6-told_of_withdrawals" in stored
    assert {f"v7-{name}" for name in SCENARIOS} <= stored


@pytest.mark.parametrize("sandboxed", [True, False], ids=["sandboxed", "as-the-worker-runs"])
@pytest.mark.parametrize("name", sorted(p.stem for p in HISTORIES.glob("*.json")))
async def test_stored_history_replays(name: str, sandboxed: bool) -> None:
    path = HISTORIES / f"{name}.json"
    history = WorkflowHistory.from_json(f"case-{name}", path.read_text())
    result = await replayer(sandboxed=sandboxed).replay_workflow(history)
    assert result.replay_failure is None


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_a_case_run_now_replays(name: str, desk: Desk, temporal: Client) -> None:
    case = await SCENARIOS[name](desk)
    history = await temporal.get_workflow_handle(workflow_id(case["id"])).fetch_history()
    result = await replayer().replay_workflow(history)
    assert result.replay_failure is None
    if os.environ.get("RECORD_HISTORIES"):
        (HISTORIES / f"{name}.json").write_text(json.dumps(history.to_json_dict(), indent=1))
