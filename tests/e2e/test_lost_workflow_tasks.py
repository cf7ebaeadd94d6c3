"""An Update's event is written by a local activity in the workflow task that accepts it (issue 15). A task lost
after that event committed (its worker died before completing it) is run again by Temporal with the same Update:
the action is recorded once, the trail verifies and agrees with the workflow's history, and the case goes on.
A real Temporal dev server and a real worker; the task is lost by failing it once right after the Update's
handler finished (what Temporal sees of a worker that dies then: the task is not completed)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import (
    HandleUpdateInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from activities.records import CaseRecords
from api.reports import current_fiscal_year
from contracts.activities import EventHeader, RecordCaseEvent
from contracts.case import MAIL_UNDELIVERABLE_SIGNAL, UndeliverableMail, workflow_id
from domain import events
from domain.audit import REDACTION_EVENT
from domain.model import Action, Actor
from domain.payloads import parse_payload
from domain.transitions import apply, event_payload
from infra.evidence_check import check_pack
from infra.retention import archive_case
from infra.settings import Settings
from services.context import Services
from services.read_model import dashboard_figures
from tests.helpers import people
from tests.helpers.mail import MailSink
from tests.helpers.people import APPLICANT, APPLICANT_ACTOR, AUDITOR, COORDINATOR, COORDINATOR_ACTOR, SBIC, officer
from tests.helpers.team import Team, team_desk
from workers.case_worker import build_worker
from workflows.case import CaseWorkflow

pytestmark = pytest.mark.parametrize("env", ["local"], indirect=True)


class LoseTasks(Interceptor):
    """Fails the workflow task in which an Update named `update` finished, the first time each such Update runs;
    with `count`, only once: the task in which the `count`-th such Update finished."""

    def __init__(self, update: str, count: int | None = None) -> None:
        self.update, self.count = update, count
        self.finished: list[str] = []
        self.lost: list[str] = []

    def _loses(self, update: str, update_id: str) -> bool:
        if update == self.update and update_id not in self.finished:
            self.finished.append(update_id)
        if self.count is not None:
            lose = len(self.finished) == self.count and not self.lost
        else:
            lose = update == self.update and update_id not in self.lost
        if lose:
            self.lost.append(update_id)
        return lose

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
        outer = self

        class Losing(WorkflowInboundInterceptor):
            async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
                result = await super().handle_update_handler(input)
                if outer._loses(input.update, input.id):
                    raise RuntimeError("the worker died before completing this workflow task")
                return result

        return Losing


@asynccontextmanager
async def losing_desk(client: Client, settings: Settings, database_url: str, losing: LoseTasks
                      ) -> AsyncIterator[Team]:
    """The team's desk with a case worker that loses the tasks `losing` says."""
    async with team_desk(client, settings, database_url, worker=False) as team:
        assert team.engine is not None
        async with build_worker(client, settings.temporal_task_queue, team.engine, keys=settings.audit_keys,
                                interceptors=[losing]):
            yield team


async def record_lost(team: Team, client: Client, settings: Settings, case: dict[str, Any], action: Action,
                      payload: dict[str, Any], actor: Actor) -> None:
    """Record `action` as the case's next event the way its Update's local activity does, in a workflow task that
    is then lost and whose Update never comes back: the event is stored, chained and signed; the workflow never
    took it."""
    assert team.engine is not None
    state = await client.get_workflow_handle(workflow_id(case["id"])).query(CaseWorkflow.snapshot)
    assert state is not None
    at = datetime.now(UTC)
    parsed = parse_payload(action, payload)
    after = apply(state, actor, action, parsed, at)
    header = EventHeader(
        case_id=state.id, seq=state.seq + 1, type=action, actor=actor.model_dump(mode="json"),
        at=at, stage_before=state.stage, stage_after=after.stage, prev_hash=state.last_hash, salt=uuid.uuid4().hex,
    )
    lost = RecordCaseEvent(header=header, payload=event_payload(action, parsed, None),
                           state=after.model_copy(update={"seq": header.seq}))
    activity = ActivityEnvironment()
    activity.info = dataclasses.replace(activity.info, workflow_id=workflow_id(state.id))
    await activity.run(CaseRecords(team.engine, settings.audit_keys.signer).record_case_event, lost)


async def test_an_update_whose_task_was_lost_after_recording_is_recorded_once(
    env: WorkflowEnvironment, settings: Settings, migrated_database: str, mail_sink: MailSink,
) -> None:
    losing = LoseTasks("relay")
    async with losing_desk(env.client, settings, migrated_database, losing) as team:
        case = await team.file(APPLICANT)
        relayed = await team.ok(case, "relay", COORDINATOR, offices=[SBIC])
        assert len(losing.lost) == 1, "the task that ran the relay was lost once"
        await team.ok(case, "accept_case", officer(SBIC))
        history = await team.history(case, COORDINATOR)
        verdict = await team.verify(case, AUDITOR)
        crosscheck = (await team.http.get(f"/api/cases/{case['id']}/history/crosscheck",
                                          headers=team.headers(AUDITOR))).json()
    assert [(e["seq"], e["type"]) for e in history] == [(1, events.FILED), (2, "relay"), (3, "accept_case")]
    assert relayed["stage"] == "office_review"
    assert verdict["valid"] is True
    assert crosscheck["consistent"] is True, crosscheck


async def test_an_event_whose_update_never_came_back_is_voided_and_the_case_goes_on(
    env: WorkflowEnvironment, settings: Settings, migrated_database: str, mail_sink: MailSink,
) -> None:
    """The task that recorded a note was lost and its Update never delivered again (its caller gave up, Temporal
    restarted): the note is on the trail, chained and signed, but the workflow never took it. The next action
    comes to the note's seq: the note is voided and the action recorded after the voiding; the case, its history
    as of any time and the cross-check with Temporal's history all agree."""
    client: Client = env.client
    async with team_desk(client, settings, migrated_database) as team:
        assert team.engine is not None
        case = await team.file(APPLICANT)
        await record_lost(team, client, settings, case, Action.ADD_NOTE, {"text": "written by a task that was lost"},
                          COORDINATOR_ACTOR)
        noted = (await team.get(case, COORDINATOR)).json()

        relayed = await team.ok(case, "relay", COORDINATOR, offices=[SBIC])
        history = await team.history(case, AUDITOR)
        told = await team.history(case, APPLICANT)
        verdict = await team.verify(case, AUDITOR)
        crosscheck = (await team.http.get(f"/api/cases/{case['id']}/history/crosscheck",
                                          headers=team.headers(AUDITOR))).json()
        back_then = (await team.http.get(f"/api/cases/{case['id']}", params={"as_of": noted["updated_at"]},
                                         headers=team.headers(AUDITOR))).json()
        now = (await team.http.get(f"/api/cases/{case['id']}", params={"as_of": relayed["updated_at"]},
                                   headers=team.headers(AUDITOR))).json()
    assert [(e["seq"], e["type"]) for e in history] == [
        (1, events.FILED), (2, "add_note"), (3, events.VOIDED), (4, "relay")]
    assert history[2]["payload"]["from_seq"] == 2 and history[2]["payload"]["to_seq"] == 2
    assert relayed["stage"] == "office_review" and relayed["notes_total"] == 0, "the case never took the note"
    assert [e["type"] for e in told] == [events.FILED, events.VOIDED, "relay"], "the applicant sees the voiding"
    assert verdict["valid"] is True
    assert crosscheck["consistent"] is True, crosscheck
    assert noted["notes_total"] == 1, "until the voiding, the read model showed the stranger"
    assert back_then["notes_total"] == 1 and back_then["stage"] == "screening"
    assert now["notes_total"] == 0 and now["stage"] == "office_review", "as of after the voiding, no note"


async def test_reports_and_the_dashboard_leave_out_what_a_voiding_voids(
    env: WorkflowEnvironment, settings: Settings, migrated_database: str, mail_sink: MailSink,
) -> None:
    """A relay recorded in a lost task and voided, then the case's own relay: the coordinator handled screening
    once, and the case stayed in office review once (not also for the while the voided relay stood)."""
    client: Client = env.client
    async with team_desk(client, settings, migrated_database) as team:
        case = await team.file(APPLICANT)
        await record_lost(team, client, settings, case, Action.RELAY, {"offices": [SBIC]}, COORDINATOR_ACTOR)
        await team.ok(case, "add_note", COORDINATOR, text="voids the relay")
        await team.ok(case, "relay", COORDINATOR, offices=[SBIC])
        await team.ok(case, "accept_case", officer(SBIC))
        history = await team.history(case, AUDITOR)
        report = (await team.http.get(f"/api/reports/service-levels?fiscal_year={current_fiscal_year()}",
                                      headers=team.headers(AUDITOR))).json()
        assert team.sessions is not None and team.engine is not None
        figures = await dashboard_figures(Services(settings, team.engine, team.sessions, client),
                                          people.AUDITOR_ACTOR)
    assert [e["type"] for e in history] == [events.FILED, "relay", events.VOIDED, "add_note", "relay", "accept_case"]
    handled = {(s["office"], s["officer"], s["stage"]): s["handled"] for s in report["stages"]}
    assert handled == {("jetro", "Kenji Sato (JETRO)", "screening"): 1, ("sbic", "Officer of sbic", "office_review"): 1}
    at = [datetime.fromisoformat(e["at"]) for e in history]
    stays = dict(figures.median_days)
    assert stays["screening"] == pytest.approx((at[4] - at[0]).total_seconds() / 86_400)
    assert stays["office_review"] == pytest.approx((at[5] - at[4]).total_seconds() / 86_400)


async def test_an_action_the_case_awaits_is_taken_though_the_read_model_shows_a_stranger(
    env: WorkflowEnvironment, settings: Settings, migrated_database: str, mail_sink: MailSink,
) -> None:
    """Until the next recording voids it, the read model shows the event no workflow took: here a withdrawal, so
    the case reads as closed. The desk must judge an action on the case its workflow holds, not refuse for good
    every step of a case that is open (nothing else may come to void the stranger)."""
    client: Client = env.client
    async with team_desk(client, settings, migrated_database) as team:
        case = await team.file(APPLICANT)
        await record_lost(team, client, settings, case, Action.WITHDRAW, {"reason": "lost with its task"},
                          APPLICANT_ACTOR)
        shown = (await team.get(case, COORDINATOR)).json()
        assert shown["stage"] == "closed", "the read model shows the withdrawal no workflow took"
        relayed = await team.ok(case, "relay", COORDINATOR, offices=[SBIC])
        history = await team.history(case, AUDITOR)
        crosscheck = (await team.http.get(f"/api/cases/{case['id']}/history/crosscheck",
                                          headers=team.headers(AUDITOR))).json()
    assert relayed["stage"] == "office_review" and relayed["outcome"] is None
    assert [e["type"] for e in history] == [events.FILED, "withdraw", events.VOIDED, "relay"]
    assert crosscheck["consistent"] is True, crosscheck


@pytest.mark.parametrize("lost", ["file", "request_info", "update_contact", "provide_info", "withdraw"])
async def test_every_kind_of_update_whose_task_was_lost_is_recorded_once(
    env: WorkflowEnvironment, settings: Settings, migrated_database: str, mail_sink: MailSink, lost: str,
) -> None:
    """The filing (update-with-start), a keyed action (its key claimed with the event, then sent again), a
    readdressing and the withdrawal that ends the workflow in the very task that was lost."""
    losing = LoseTasks(lost)
    async with losing_desk(env.client, settings, migrated_database, losing) as team:
        case = await team.file(APPLICANT)
        keyed = {**team.headers(COORDINATOR), "Idempotency-Key": "ask-once"}
        asking = {"questions": ["Which markets?"]}
        for _ in range(2):
            asked = await team.http.post(f"/api/cases/{case['id']}/actions/request_info", json=asking,
                                         headers=keyed)
            assert asked.status_code == 200, asked.text
        await team.ok(case, "update_contact", COORDINATOR, name="Anna Schmidt", email="anna@new.example")
        await team.ok(case, "provide_info", APPLICANT, answer="Europe")
        await team.ok(case, "withdraw", APPLICANT, reason="no longer needed")
        assert len(losing.lost) == 1, f"the task that ran {lost} was lost once"
        history = await team.history(case, AUDITOR)
        verdict = await team.verify(case, AUDITOR)
        crosscheck = (await team.http.get(f"/api/cases/{case['id']}/history/crosscheck",
                                          headers=team.headers(AUDITOR))).json()
        shown = (await team.get(case, COORDINATOR)).json()
    assert [e["type"] for e in history] == [
        events.FILED, "request_info", "update_contact", "provide_info", "withdraw"]
    assert verdict["valid"] is True
    assert crosscheck["consistent"] is True, crosscheck
    assert shown["stage"] == "closed" and shown["outcome"] == "withdrawn"


async def test_a_trail_with_a_voiding_packs_checks_and_is_archived_erasing_every_address(
    env: WorkflowEnvironment, settings: Settings, migrated_database: str, mail_sink: MailSink, tmp_path: Path,
) -> None:
    """A voided update_contact's address is personal data like any other: the evidence pack checks alone, and
    archiving the closed case erases the address only the voided event held too."""
    client: Client = env.client
    async with team_desk(client, settings, migrated_database) as team:
        assert team.engine is not None
        case = await team.file(APPLICANT)
        await record_lost(team, client, settings, case, Action.UPDATE_CONTACT,
                          {"name": "Somebody Else", "email": "never-taken@example.com"}, COORDINATOR_ACTOR)
        await team.ok(case, "withdraw", APPLICANT, reason="no longer needed")
        packed = await team.http.get(f"/api/cases/{case['id']}/evidence", headers=team.headers(AUDITOR))
        assert packed.status_code == 200, packed.text
        pack = tmp_path / "pack.zip"
        pack.write_bytes(packed.content)
        problems, _ = check_pack(str(pack))
        await archive_case(team.engine, case["id"], tmp_path, retention_years=10, now=datetime.now(UTC),
                           keys=settings.audit_keys)
        history = await team.history(case, AUDITOR)
        verdict = await team.verify(case, AUDITOR)
    assert problems == []
    assert [e["type"] for e in history] == [events.FILED, "update_contact", events.VOIDED, "withdraw", REDACTION_EVENT]
    assert history[-1]["payload"]["events"] == [1, 2], "the voided event's address is erased too"
    assert verdict["valid"] is True


async def test_updates_a_lost_task_recorded_together_are_each_taken_again_not_voided(
    env: WorkflowEnvironment, settings: Settings, migrated_database: str, mail_sink: MailSink,
) -> None:
    """Three notes wait while no worker runs, so one workflow task takes them all; it is lost after two of them
    recorded. Temporal runs it again with the same Updates: each finds its own event at its seq and takes it.
    Nothing is voided and recorded again (which sends the mail of each a second time)."""
    client: Client = env.client
    losing = LoseTasks("add_note", count=2)
    async with team_desk(client, settings, migrated_database, worker=False) as team:
        assert team.engine is not None
        async with build_worker(client, settings.temporal_task_queue, team.engine, keys=settings.audit_keys):
            case = await team.file(APPLICANT)
        waiting = [asyncio.create_task(team.act(case, "add_note", COORDINATOR, text=f"note {n}")) for n in range(3)]
        await asyncio.sleep(1)
        async with build_worker(client, settings.temporal_task_queue, team.engine, keys=settings.audit_keys,
                                interceptors=[losing]):
            noted = await asyncio.gather(*waiting)
            assert [r.status_code for r in noted] == [200] * 3, [r.text for r in noted]
            await team.ok(case, "relay", COORDINATOR, offices=[SBIC])
            history = await team.history(case, AUDITOR)
            verdict = await team.verify(case, AUDITOR)
            crosscheck = (await team.http.get(f"/api/cases/{case['id']}/history/crosscheck",
                                              headers=team.headers(AUDITOR))).json()
            shown = (await team.get(case, COORDINATOR)).json()
    assert losing.lost
    assert [e["type"] for e in history] == [events.FILED, *["add_note"] * 3, "relay"], "nothing voided"
    assert sorted(e["payload"]["text"] for e in history if e["type"] == "add_note") == [f"note {n}" for n in range(3)]
    assert shown["notes_total"] == 3
    assert verdict["valid"] is True
    assert crosscheck["consistent"] is True, crosscheck


class LoseTaskAfterASignal(LoseTasks):
    """Loses the task of the first Update named `update`, and before that task is run again, the mail relay tells
    the case of an undeliverable message: the task run again holds the signal first, then the same Update."""

    def __init__(self, update: str, client: Client, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(update, count=1)
        self.client, self.loop = client, loop

    def _loses(self, update: str, update_id: str) -> bool:
        if not super()._loses(update, update_id):
            return False
        told = UndeliverableMail(message=str(uuid.uuid4()), template="request_info", code="550")
        handle = self.client.get_workflow_handle(workflow.info().workflow_id)
        asyncio.run_coroutine_threadsafe(handle.signal(MAIL_UNDELIVERABLE_SIGNAL, told), self.loop).result(10)
        return True


async def test_an_update_whose_lost_task_is_run_again_after_a_signal_is_taken_not_voided(
    env: WorkflowEnvironment, settings: Settings, migrated_database: str, mail_sink: MailSink,
) -> None:
    """The signal's event (an ordinary activity) must not void the Update's event when the Update is delivered
    again in that very task: the Update takes its event, the signal's event follows. Else the action is voided
    and recorded again, and its mail, sent already, goes out twice."""
    client: Client = env.client
    losing = LoseTaskAfterASignal("add_note", client, asyncio.get_running_loop())
    async with losing_desk(client, settings, migrated_database, losing) as team:
        case = await team.file(APPLICANT)
        await team.ok(case, "add_note", COORDINATOR, text="taken once")
        for _ in range(50):
            history = await team.history(case, AUDITOR)
            if any(e["type"] == events.MAIL_UNDELIVERABLE for e in history):
                break
            await asyncio.sleep(0.2)
        crosscheck = (await team.http.get(f"/api/cases/{case['id']}/history/crosscheck",
                                          headers=team.headers(AUDITOR))).json()
        shown = (await team.get(case, COORDINATOR)).json()
    assert losing.lost
    assert [e["type"] for e in history] == [events.FILED, "add_note", events.MAIL_UNDELIVERABLE], "nothing voided"
    assert shown["notes_total"] == 1
    assert crosscheck["consistent"] is True, crosscheck
