"""Who is told what, in which words (docs/DESIGN.md §4, issue: notifications).

An accepted event names its audiences; the recording activity turns audiences into people (users with
an e-mail, and the applicant's contact) and writes one outbox row each. Applicants hear only about their
own case, and never about internal notes, scores or the fund's deliberations.
"""

from __future__ import annotations

from typing import Any

from domain import events
from domain.base_models import Frozen
from domain.calendar import tokyo_day
from domain.model import FUND, JETRO, CaseState, Role
from domain.service_levels import waiting_on

APPLICANT_CONTACT = "applicant_contact"


class Audience(Frozen):
    """A role within an organisation (`role`, `org`), or the applicant's own contact (`role` only)."""

    role: str
    org: str | None = None


class Notice(Frozen):
    """What an event should tell, and whom: the template and its audiences."""

    template: str
    audiences: list[Audience]


def _staff_of(orgs: list[str], *, managers: bool = False) -> list[Audience]:
    audiences = []
    for org in orgs:
        if org == JETRO:
            audiences.append(Audience(role=Role.COORDINATOR, org=JETRO))
        elif org == FUND:
            audiences.append(Audience(role=Role.FUND_COMMITTEE, org=FUND))
        elif org == "applicant":
            audiences.append(Audience(role=APPLICANT_CONTACT))
        else:
            audiences.append(Audience(role=Role.OFFICE_MANAGER if managers else Role.OFFICE_OFFICER, org=org))
    return audiences


CLOSING = frozenset(
    {
        "reject",
        "decline_case",
        "close_no_match",
        "conclude_without_fund",
        "approve_investment",
        "decline_investment",
        "withdraw",
        events.EXPIRED,
    }
)


def audiences(event_type: str, before: CaseState, after: CaseState, payload: dict[str, Any]) -> list[Audience]:
    """Who hears of this event (an empty list for events nobody needs an e-mail about)."""
    lead = [str(after.lead_office)] if after.lead_office else []
    match event_type:
        case events.REMINDER:
            return _staff_of(waiting_on(before))
        case events.ESCALATION:
            if payload.get("to") == JETRO:
                return [Audience(role=Role.COORDINATOR, org=JETRO)]
            return _staff_of(waiting_on(before), managers=True)
        case "relay":
            return [*_staff_of([str(r.office) for r in after.offices]), Audience(role=APPLICANT_CONTACT)]
        case "accept_case":
            return [Audience(role=APPLICANT_CONTACT), Audience(role=Role.COORDINATOR, org=JETRO)]
        case "request_info":
            return [Audience(role=APPLICANT_CONTACT)]
        case "propose_investment":
            return [Audience(role=Role.FUND_COMMITTEE, org=FUND)]
        case _ if event_type in CLOSING and after.outcome is not None:
            return [Audience(role=APPLICANT_CONTACT), Audience(role=Role.COORDINATOR, org=JETRO), *_staff_of(lead)]
        case _:
            return []


def template_key(event_type: str, after: CaseState) -> str:
    if event_type in CLOSING and after.outcome is not None:
        return "closed"
    return event_type


def notice(event_type: str, before: CaseState, after: CaseState, payload: dict[str, Any]) -> Notice | None:
    """The notice an event gives, or None when it tells nobody."""
    told = audiences(event_type, before, after, payload)
    return Notice(template=template_key(event_type, after), audiences=told) if told else None


TEMPLATES: dict[tuple[str, str], tuple[str, str]] = {
    (events.REMINDER, "en"): (
        "Reminder: {reference} is waiting for you",
        "Case {reference} ({company}) has been waiting in {stage}. It is due on {due_date}.",
    ),
    (events.REMINDER, "ja"): (
        "【リマインダー】{reference} の対応をお願いします",
        "案件 {reference}（{company}）は「{stage}」で対応待ちです。期限は {due_date} です。",
    ),
    (events.ESCALATION, "en"): (
        "Escalation (level {level}): {reference} is overdue",
        "Case {reference} ({company}) passed its due date of {due_date} in {stage}.",
    ),
    (events.ESCALATION, "ja"): (
        "【エスカレーション レベル{level}】{reference} が期限を過ぎています",
        "案件 {reference}（{company}）は「{stage}」の期限 {due_date} を過ぎています。",
    ),
    ("relay", "en"): (
        "{reference} has been relayed for review",
        "JETRO has relayed case {reference} ({company}) to the Global Alliance Promotion Offices.",
    ),
    ("relay", "ja"): (
        "{reference} が審査に回付されました",
        "JETRO が案件 {reference}（{company}）をグローバル・アライアンス推進窓口に回付しました。",
    ),
    ("accept_case", "en"): (
        "{reference} has been accepted",
        "Case {reference} ({company}) was accepted by {lead_office}, which now looks for partners.",
    ),
    ("accept_case", "ja"): (
        "{reference} が受理されました",
        "案件 {reference}（{company}）は {lead_office} が受理し、パートナー探索を始めました。",
    ),
    ("request_info", "en"): (
        "{reference}: JETRO needs more information",
        "Please answer these questions about case {reference} by {due_date}:\n{questions}",
    ),
    ("request_info", "ja"): (
        "{reference}：追加情報のお願い",
        "案件 {reference} について、{due_date} までに次の質問にご回答ください。\n{questions}",
    ),
    ("propose_investment", "en"): (
        "Investment proposal ready: {reference}",
        "A fund investment proposal for case {reference} ({company}) awaits your decision.",
    ),
    ("propose_investment", "ja"): (
        "投資提案：{reference}",
        "案件 {reference}（{company}）のファンド投資提案が決定を待っています。",
    ),
    ("closed", "en"): ("{reference} is closed: {outcome}", "Case {reference} ({company}) is closed: {outcome}."),
    ("closed", "ja"): (
        "{reference} は終了しました：{outcome}",
        "案件 {reference}（{company}）は終了しました：{outcome}。",
    ),
}


def render(key: str, language: str, after: CaseState, payload: dict[str, Any]) -> tuple[str, str]:
    """Subject and body in the recipient's language (English when we have no Japanese, or vice versa)."""
    subject, body = TEMPLATES.get((key, language)) or TEMPLATES[(key, "en")]
    due = after.due_at or (after.clock.due_at if after.clock else None)
    fields = {
        "reference": after.reference,
        "company": after.request.company.name,
        "stage": payload.get("stage", after.stage),
        "due_date": tokyo_day(due).isoformat() if due else "-",
        "level": payload.get("level", ""),
        "lead_office": after.lead_office or "-",
        "questions": "\n".join(f"- {q}" for q in after.questions),
        "outcome": after.outcome or "-",
    }
    return subject.format(**fields), body.format(**fields)
