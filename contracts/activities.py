"""The activities the workflows call: names, inputs and typed stubs.

A workflow calls `workflow.execute_activity(record_event, …)` with the stub declared here, so the call is
type-checked and the name written once, without the workflow importing `activities/` (database code that the
workflow sandbox must not load). The worker registers the implementations, which carry the same names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio import activity

from contracts.case import Contract
from domain.audit import AuditEntry
from domain.filing import FilingRequest, Seeking
from domain.idempotency import KeyClaim
from domain.model import Actor, Candidate, CaseState
from domain.notifications import Notice
from domain.payloads import MatchingCriteria
from domain.verification import VerificationSummary

RECORD_EVENT = "record_event"
FIND_CANDIDATES = "find_candidates"
DELIVER_MAIL = "deliver_mail"
VERIFY_AUDIT_TRAIL = "verify_audit_trail"
RECORD_CASE_EVENT = "record_case_event"
RANK_CANDIDATES = "rank_candidates"
STORED_FILING = "stored_filing"


class RecordEvent(Contract):
    entry: AuditEntry
    state: CaseState
    notice: Notice | None = None


class FindCandidates(Contract):
    seeking: Seeking
    criteria: MatchingCriteria


class EventHeader(Contract):
    """Everything of an audit event but its payload and hashes; the recording activity completes it."""

    case_id: str
    seq: int
    type: str
    actor: dict[str, Any]  # id, name, role, org; and on_behalf_of (the same four) for a stand-in (issue 21)
    at: datetime
    stage_before: str | None
    stage_after: str
    prev_hash: str
    salt: str | None = None


class RecordCaseEvent(Contract):
    """Record one event of a case whose workflow keeps its free text as references (`domain.texts`).

    `payload` and `state` carry references; the activity puts the texts back (from `case_texts`), and, for
    `run_matching`, the ranked candidates kept under `candidates_ref`, before it writes the event (hashing
    the words as typed), the read model and the outbox in one transaction.
    """

    header: EventHeader
    payload: dict[str, Any]
    state: CaseState
    candidates_ref: str | None = None
    claim: KeyClaim | None = None


class Recorded(Contract):
    """The recorded event's hash (the next event's `prev_hash`) and, when it is not the seq the workflow asked for
    (events no workflow took came first and are now void: `domain.voiding`), its seq; `waiting` is always 0 now that
    the mail relay delivers the outbox (cases from before it read it to call `deliver_mail`)."""

    hash: str
    waiting: int = 0
    seq: int | None = None  # the event's seq, when not the one asked for (events no workflow took were voided)


class StoredFiling(Contract):
    """The filing stored as a case's event 1 (its request with free text as references, its actor, time and
    hash): what the case's workflow needs to take a filing it never took (`domain.voiding`)."""

    request: FilingRequest
    actor: Actor
    at: datetime
    hash: str


class Ranked(Contract):
    """The ranked candidates by id and score (`domain.texts.bound_candidates`), their full rows kept in
    PostgreSQL under `ref` for the recording step."""

    candidates: list[Candidate]
    ref: str



# -- typed stubs: what a workflow calls; the worker registers the implementations named alike --------------


@activity.defn(name=RECORD_EVENT)
async def record_event(command: RecordEvent) -> int:
    """Store the event, the case's read model and its outbox in one transaction; 0 (the e-mails the workflow
    once delivered itself: the mail relay sends them now).

    Implemented by `activities.records.CaseRecords`.
    """
    raise NotImplementedError(RECORD_EVENT)


@activity.defn(name=FIND_CANDIDATES)
async def find_candidates(command: FindCandidates) -> list[Candidate]:
    """Rank the registry's SMEs for a request (implemented by `activities.matching.Matching`)."""
    raise NotImplementedError(FIND_CANDIDATES)


@activity.defn(name=DELIVER_MAIL)
async def deliver_mail(case_id: str) -> int:
    """Cases from before the mail relay call this; it sends nothing (the relay does) and answers 0."""
    raise NotImplementedError(DELIVER_MAIL)


@activity.defn(name=VERIFY_AUDIT_TRAIL)
async def verify_audit_trail(run: str) -> VerificationSummary:
    """Verify every chain and record the result once per run (`activities.verification.AuditVerification`)."""
    raise NotImplementedError(VERIFY_AUDIT_TRAIL)


@activity.defn(name=RECORD_CASE_EVENT)
async def record_case_event(command: RecordCaseEvent) -> Recorded:
    """Complete, hash and store the event with the texts put back, with the read model and the outbox, in one
    transaction; idempotent by (case, seq) (`activities.records.CaseRecords`)."""
    raise NotImplementedError(RECORD_CASE_EVENT)


@activity.defn(name=RANK_CANDIDATES)
async def rank_candidates(command: FindCandidates) -> Ranked:
    """Rank the registry for a request and keep the full candidates for the recording step
    (`activities.candidates.CandidateRanking`)."""
    raise NotImplementedError(RANK_CANDIDATES)


@activity.defn(name=STORED_FILING)
async def stored_filing(case_id: str) -> StoredFiling | None:
    """The filing stored for the case, verified as the recording step verifies what it finds (None: none is), its
    free text kept (`activities.records.CaseRecords`)."""
    raise NotImplementedError(STORED_FILING)
