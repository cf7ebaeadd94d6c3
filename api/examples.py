"""OpenAPI examples for every action payload, and the problem responses every route may give.

Tests validate each example against its payload model, so the documentation cannot drift from the rules.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from domain.model import Action

ACTION_EXAMPLES: dict[Action, dict[str, Any]] = {
    Action.REQUEST_INFO: {"questions": ["Which markets do you sell in today?", "What ticket size is firm?"]},
    Action.PROVIDE_INFO: {"answer": "Germany and Poland; EUR 2–3 million."},
    Action.REJECT: {"reason": "The request is a purchase of goods, not an investment alliance."},
    Action.RELAY: {"offices": ["sme_support_japan", "sbic"], "note": "Strong fit for precision machining."},
    Action.ACCEPT_CASE: {"note": "We take the lead; two candidates come to mind."},
    Action.DECLINE_CASE: {"reason": "No capacity in our Kansai team this quarter."},
    Action.RUN_MATCHING: {"industries": ["E"], "prefectures": ["Aichi", "Gifu"], "max_employees": 300, "limit": 10},
    Action.SHORTLIST: {"sme_ids": ["1010001000006"]},
    Action.RECORD_RESPONSE: {"sme_id": "1010001000006", "interested": True, "note": "Keen; wants an NDA first."},
    Action.SELECT_PARTNER: {"sme_ids": ["1010001000006"]},
    Action.CLOSE_NO_MATCH: {"reason": "None of the shortlisted SMEs wished to proceed."},
    Action.PROPOSE_INVESTMENT: {
        "route": "co_investment",
        "amount_jpy": 200000000,
        "rationale": "Opens EU channels for the SME's sensor line.",
    },
    Action.CONCLUDE_WITHOUT_FUND: {"note": "The partners agreed a direct business tie-up."},
    Action.APPROVE_INVESTMENT: {"note": "Approved by the committee of 12 December."},
    Action.DECLINE_INVESTMENT: {"reason": "Valuation too high for the Fund's mandate."},
    Action.RETURN_PROPOSAL: {"comments": "Please show the exit scenario and lower the ticket."},
    Action.WITHDRAW: {"reason": "We chose another market."},
    Action.ADD_NOTE: {"text": "CFO prefers calls on Monday mornings (JST)."},
    Action.REASSIGN: {"assignee": "Hanako Ito"},
    Action.PAUSE: {"reason": "Waiting on a patent search by a third party."},
    Action.RESUME: {"note": "Patent search received."},
    Action.UPDATE_CONTACT: {"name": "Anna Schmidt", "email": "anna.schmidt@acme.example", "language": "en"},
    Action.CLAIM: {},
    Action.RELEASE: {},
}

OPENAPI_EXAMPLES: dict[str, Any] = {
    action.value: {"summary": action.value, "value": value} for action, value in ACTION_EXAMPLES.items()
}


class ProblemDocument(BaseModel):
    """RFC 9457 problem details; refusals add `action`, `stage` and `allowed_actions`."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry for problem documents of these statuses."""
    schema = {"$ref": "#/components/schemas/ProblemDocument"}
    return {
        status: {"description": "A problem", "content": {"application/problem+json": {"schema": schema}}}
        for status in statuses
    }
