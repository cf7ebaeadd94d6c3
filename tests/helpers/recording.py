"""The recording step as a case's workflow calls it, outside any workflow: a new case's filing and its next events."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import ActivityEnvironment

from activities.records import CaseRecords
from contracts.activities import EventHeader, RecordCaseEvent
from contracts.case import workflow_id
from domain.filing import FilingRequest
from domain.model import CaseState
from domain.signing import Signer
from domain.transitions import new_case
from infra.settings import Settings
from tests.helpers.people import APPLICANT_ACTOR, COORDINATOR_ACTOR
from tests.helpers.support import filing

SIGNER = Settings(_env_file=None).audit_keys.signer
STRANGER = Signer.from_seed(bytes(range(7, 39)))


def filing_step(engine: AsyncEngine) -> tuple[ActivityEnvironment, Any, CaseState, RecordCaseEvent]:
    """An activity environment for a new case's workflow, its recording step, the case and its filing."""
    case_id = str(uuid.uuid4())
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id=workflow_id(case_id))
    request = FilingRequest.model_validate(filing())
    draft = new_case(case_id, request, APPLICANT_ACTOR, datetime.now(UTC))
    header = EventHeader(case_id=case_id, seq=1, type="filed", actor=APPLICANT_ACTOR.model_dump(mode="json"),
                         at=draft.created_at, stage_before=None, stage_after=draft.stage, prev_hash=draft.last_hash)
    filed = RecordCaseEvent(header=header, payload=request.model_dump(mode="json"),
                            state=draft.model_copy(update={"seq": 1}))
    return env, CaseRecords(engine, SIGNER).record_case_event, draft, filed


def a_note(draft: CaseState, prev_hash: str, text: str) -> RecordCaseEvent:
    """The recording of a coordinator's note as the case's event 2, after the filing whose hash is `prev_hash`."""
    note = EventHeader(case_id=draft.id, seq=2, type="add_note", actor=COORDINATOR_ACTOR.model_dump(mode="json"),
                       at=draft.created_at + timedelta(minutes=5), stage_before=draft.stage,
                       stage_after=draft.stage, prev_hash=prev_hash)
    return RecordCaseEvent(header=note, payload={"text": text},
                           state=draft.model_copy(update={"seq": 2, "last_hash": prev_hash}))
