"""The activities the workflows call: names, inputs and typed stubs.

A workflow calls `workflow.execute_activity(record_event, …)` with the stub declared here, so the call is
type-checked and the name written once, without the workflow importing `activities/` (database code that the
workflow sandbox must not load). The worker registers the implementations, which carry the same names.
"""

from __future__ import annotations

from temporalio import activity

from contracts.case import Contract
from domain.audit import AuditEntry
from domain.model import Candidate, CaseState, Seeking
from domain.notifications import Notice
from domain.payloads import MatchingCriteria
from domain.verification import VerificationSummary

RECORD_EVENT = "record_event"
FIND_CANDIDATES = "find_candidates"
DELIVER_MAIL = "deliver_mail"
VERIFY_AUDIT_TRAIL = "verify_audit_trail"


class RecordEvent(Contract):
    entry: AuditEntry
    state: CaseState
    notice: Notice | None = None


class FindCandidates(Contract):
    seeking: Seeking
    criteria: MatchingCriteria



# -- typed stubs: what a workflow calls; the worker registers the implementations named alike --------------


@activity.defn(name=RECORD_EVENT)
async def record_event(command: RecordEvent) -> int:
    """Store the event, the case's read model and its outbox in one transaction; the e-mails now waiting.

    Implemented by `activities.records.CaseRecords`.
    """
    raise NotImplementedError(RECORD_EVENT)


@activity.defn(name=FIND_CANDIDATES)
async def find_candidates(command: FindCandidates) -> list[Candidate]:
    """Rank the registry's SMEs for a request (implemented by `activities.matching.Matching`)."""
    raise NotImplementedError(FIND_CANDIDATES)


@activity.defn(name=DELIVER_MAIL)
async def deliver_mail(case_id: str) -> int:
    """Send a case's (or a chain's) waiting e-mails; how many were sent (`activities.mail.MailCourier`)."""
    raise NotImplementedError(DELIVER_MAIL)


@activity.defn(name=VERIFY_AUDIT_TRAIL)
async def verify_audit_trail(run: str) -> VerificationSummary:
    """Verify every chain and record the result once per run (`activities.verification.AuditVerification`)."""
    raise NotImplementedError(VERIFY_AUDIT_TRAIL)
