"""`alliance demo`: one sample case through every stage over HTTP, as each person in turn; its timeline."""

from __future__ import annotations

from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from domain.model import FUND, JETRO, Office, Role
from domain.samples import sample_filing
from infra.users import DEMO_USERS, demo_token


class DemoError(RuntimeError):
    pass


def _token(role: Role, org: str, pepper: str) -> str:
    return demo_token(next(u for u in DEMO_USERS if u.role == role and u.org == org), pepper)


async def run_demo(base_url: str, pepper: str, console: Console) -> dict[str, Any]:
    """File the sample case and take it to `alliance_formed_with_fund`; print and return its history."""
    people = {
        "applicant": _token(Role.APPLICANT, "acme-gmbh", pepper),
        "coordinator": _token(Role.COORDINATOR, JETRO, pepper),
        "officer": _token(Role.OFFICE_OFFICER, Office.SBIC, pepper),
        "fund": _token(Role.FUND_COMMITTEE, FUND, pepper),
    }
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:

        async def call(person: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
            response = await http.request(method, path, json=body,
                                          headers={"Authorization": f"Bearer {people[person]}"})
            if response.status_code >= 300:
                raise DemoError(f"{method} {path} as {person}: {response.status_code} {response.text}")
            return response.json()

        case = await call("applicant", "POST", "/api/cases", sample_filing())
        console.print(f"filed {case['reference']} ({case['id']})")
        act = f"/api/cases/{case['id']}/actions"
        steps: list[tuple[str, str, dict[str, Any]]] = [
            ("coordinator", "relay", {"offices": ["sbic", "sme_support_japan"], "note": "strong technology fit"}),
            ("officer", "accept_case", {"note": "SBIC takes the lead"}),
            ("officer", "run_matching", {"limit": 5}),
        ]
        for person, action, payload in steps:
            case = await call(person, "POST", f"{act}/{action}", payload)
            console.print(f"{action:<20} → {case['stage']}")
        if not case["candidates"]:
            raise DemoError("matching found no candidates; is the SME registry seeded?")
        best = case["candidates"][0]
        console.print(f"best candidate: {best['name']} — {best['reason']}")
        steps = [
            ("officer", "shortlist", {"sme_ids": [best["sme_id"]]}),
            ("officer", "record_response", {"sme_id": best["sme_id"], "interested": True, "note": "keen"}),
            ("officer", "select_partner", {"sme_ids": [best["sme_id"]]}),
            ("officer", "propose_investment", {"route": "co_investment", "amount_jpy": 200_000_000,
                                               "rationale": "EU channels for the SME's sensor line"}),
            ("fund", "approve_investment", {"note": "approved"}),
        ]
        for person, action, payload in steps:
            case = await call(person, "POST", f"{act}/{action}", payload)
            console.print(f"{action:<20} → {case['stage']}{' (' + case['outcome'] + ')' if case['outcome'] else ''}")
        history = await call("coordinator", "GET", f"/api/cases/{case['id']}/history")
        verified = await call("coordinator", "GET", f"/api/cases/{case['id']}/history/verify")

    table = Table("seq", "at (UTC)", "event", "by", "stage", title=f"Timeline of {case['reference']}")
    for event in history["events"]:
        actor = event["actor"]
        table.add_row(str(event["seq"]), event["at"][:19], event["type"], f"{actor['name']} ({actor['role']})",
                      f"{event['stage_before'] or '-'} → {event['stage_after']}")
    console.print(table)
    console.print(f"audit chain: {'intact' if verified['valid'] else 'BROKEN'} ({verified['events']} events)")
    return {"case": case, "history": history["events"], "verified": verified}
