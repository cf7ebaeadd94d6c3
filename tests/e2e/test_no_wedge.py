"""No input the API accepts can wedge a case: what crosses Temporal stays small however wordy the case.

Reproduces issue 22's "notes until the case is too big" (about the 100th note of 5,000 four-byte characters
used to answer 503, `withdraw` 500, and the read model and the workflow disagreed) and keeps the kind
checked: every payload in every run of the case's history is under 64 KiB.
"""

from __future__ import annotations

import base64
import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from contracts.case import workflow_id
from infra.incidents import open_incidents
from services.crosscheck import run_histories
from tests.helpers.desk import Desk
from tests.helpers.people import APPLICANT, COORDINATOR, FUND_MEMBER, SBIC, SJ, manager, officer
from tests.helpers.scenarios import to_matching
from tests.helpers.support import filing

PAYLOAD_BOUND = 64 * 1024
LONGEST_NOTE = "𠮷" * 5000  # the longest note the API takes, in four-byte characters: 20,000 bytes of UTF-8


def payload_sizes(node: Any) -> Iterator[int]:
    """The size in bytes of every Temporal payload in a history as JSON (`{"metadata": …, "data": base64}`)."""
    if isinstance(node, dict):
        if "metadata" in node and isinstance(node.get("data"), str):
            yield len(base64.b64decode(node["data"]))
        for value in node.values():
            yield from payload_sizes(value)
    elif isinstance(node, list):
        for value in node:
            yield from payload_sizes(value)


async def largest_payload(client: Client, case_id: str) -> tuple[int, int]:
    """The largest payload (bytes) in any run of the case's workflow, and how many runs it had."""
    runs = await run_histories(client, workflow_id(case_id))
    return max(size for _, history in runs for size in payload_sizes(history.to_json_dict())), len(runs)


async def test_a_hundred_and_twenty_longest_notes_leave_the_case_moving(desk: Desk, temporal: Client) -> None:
    case = await to_matching(desk)
    for n in range(120):
        noted = await desk.ok(case, "add_note", officer(SBIC), text=LONGEST_NOTE)
        assert noted["notes_total"] == n + 1
    seen = (await desk.get(case, officer(SBIC))).json()
    assert [note["text"] for note in seen["notes"]] == [LONGEST_NOTE] * 20  # the latest, in words
    notes = [e for e in await desk.history(case, officer(SBIC)) if e["type"] == "add_note"]
    assert len(notes) == 120 and all(e["payload"]["text"] == LONGEST_NOTE for e in notes)

    closed = await desk.ok(case, "withdraw", APPLICANT, reason="strategy changed " + "𠮷" * 4000)
    assert (closed["stage"], closed["outcome"]) == ("closed", "withdrawn")
    handle = temporal.get_workflow_handle(workflow_id(case["id"]))
    assert await handle.result() == "withdrawn"  # the workflow agrees with the read model
    largest, runs = await largest_payload(temporal, case["id"])
    assert largest < PAYLOAD_BOUND, f"a payload of {largest} bytes crossed Temporal"
    assert runs < 10  # it continued as new for its history's length, not in a loop


async def test_a_filing_at_every_limit_is_recorded_in_words_and_crosses_temporal_small(
    desk: Desk, temporal: Client
) -> None:
    wordy: dict[str, Any] = {
        "company": {"name": "𠮷" * 200, "country": "JP", "industry": "ש" * 200, "description": "🙂" * 5000},
        "contact": {"name": "e\u0301" * 100, "email": "anna@acme.example"},
        "seeking": {"technologies": [f"{n} " + "𠮷" * 190 for n in range(20)], "industries": ["E"],
                    "prefectures": [], "alliance_types": ["capital_alliance"]},
        "ticket_jpy": {"min": 1, "max": 2},
        "offers": "𠮷" * 5000,
    }
    response = await desk.http.post("/api/cases", json=wordy, headers=desk.headers(APPLICANT))
    assert response.status_code == 201, response.text
    case = response.json()
    assert case["company"]["description"] == "🙂" * 5000 and case["request"]["offers"] == "𠮷" * 5000
    questions = [f"{n:02}?" + "q" * 4997 for n in range(20)]  # 20 of the longest: 100 KB, within the body limit
    await desk.ok(case, "request_info", COORDINATOR, questions=questions)
    asked = (await desk.get(case, APPLICANT)).json()
    assert asked["questions"] == questions
    await desk.ok(case, "provide_info", APPLICANT, answer="🙂" * 5000)
    filed = (await desk.history(case, COORDINATOR))[0]
    assert filed["payload"]["offers"] == "𠮷" * 5000  # the audit trail holds the words, hashed as typed
    largest, _ = await largest_payload(temporal, case["id"])
    assert largest < PAYLOAD_BOUND, f"a payload of {largest} bytes crossed Temporal"


@pytest.mark.long
async def test_two_thousand_longest_notes_and_the_case_still_answers_and_withdraws(
    desk: Desk, temporal: Client
) -> None:
    case = await to_matching(desk)
    for _ in range(2000):
        await desk.ok(case, "add_note", officer(SBIC), text=LONGEST_NOTE)
    seen = (await desk.get(case, officer(SBIC))).json()
    assert seen["notes_total"] == 2000 and len(seen["notes"]) == 20
    answered = await desk.ok(case, "reassign", manager(SBIC), assignee="Hanako Suzuki")
    assert answered["assignee"] == "Hanako Suzuki"
    closed = await desk.ok(case, "withdraw", APPLICANT, reason="strategy changed")
    assert closed["outcome"] == "withdrawn"
    assert await temporal.get_workflow_handle(workflow_id(case["id"])).result() == "withdrawn"
    largest, runs = await largest_payload(temporal, case["id"])
    assert largest < PAYLOAD_BOUND, f"a payload of {largest} bytes crossed Temporal"
    assert runs < 2000 // 50  # continued as new for its length only


SCRIPTS = ("𠮷野家", "שָׁלוֹם", "مرحبا", "e\u0301te\u0301", "🙂👍🏽", "ｻｸﾗ", "naïve", "Ωμέγα", "\u202eevil\u202c", "x")


def hostile(length: int, seed: int = 0) -> str:
    """Valid but hostile text of exactly `length` characters: many distinct words in many scripts, emoji,
    combining marks, right-to-left and bidi-override characters, four-byte characters."""
    words: list[str] = []
    n = seed
    while sum(len(w) + 1 for w in words) < length:
        words.append(f"{SCRIPTS[n % len(SCRIPTS)]}{n}")
        n += 1
    return " ".join(words)[:length]


async def test_a_case_with_every_text_at_its_limit_goes_through_every_stage(
    desk: Desk, temporal: Client, engine: AsyncEngine
) -> None:
    body = filing()
    body["company"]["description"] = hostile(5000, 1)
    body["offers"] = hostile(5000, 2)
    body["seeking"]["technologies"] = ["precision machining", *(hostile(200, 10 * n) for n in range(19))]
    response = await desk.http.post("/api/cases", json=body, headers=desk.headers(APPLICANT))
    assert response.status_code == 201, response.text
    case = response.json()
    ascii_long = [f"{n:02} " + " ".join(f"word{n}x{k}" for k in range(600))[:4997] for n in range(20)]
    await desk.ok(case, "request_info", COORDINATOR, questions=ascii_long)
    await desk.ok(case, "provide_info", APPLICANT, answer=hostile(5000, 3))
    await desk.ok(case, "relay", COORDINATOR, offices=[SJ, SBIC], note=hostile(5000, 4))
    await desk.ok(case, "accept_case", officer(SBIC), note=hostile(5000, 5))
    await desk.ok(case, "pause", manager(SBIC), reason=hostile(5000, 6))
    await desk.ok(case, "resume", manager(SBIC), note=hostile(5000, 7))
    matched = await desk.ok(case, "run_matching", officer(SBIC), limit=100)
    best = matched["candidates"][0]["sme_id"]
    await desk.ok(case, "shortlist", officer(SBIC), sme_ids=[c["sme_id"] for c in matched["candidates"]])
    await desk.ok(case, "record_response", officer(SBIC), sme_id=best, interested=True, note=hostile(5000, 8))
    await desk.ok(case, "select_partner", officer(SBIC), sme_ids=[best])
    await desk.ok(case, "propose_investment", officer(SBIC), route="fund_lp", amount_jpy=90_000_000,
                  rationale=hostile(5000, 9))
    await desk.ok(case, "return_proposal", FUND_MEMBER, comments=hostile(5000, 10))
    await desk.ok(case, "propose_investment", officer(SBIC), route="co_investment", amount_jpy=80_000_000,
                  rationale=hostile(5000, 11))
    closed = await desk.ok(case, "approve_investment", FUND_MEMBER, note=hostile(5000, 12))
    assert closed["outcome"] == "alliance_formed_with_fund"
    # The words as typed (in Unicode's composed form, NFC, as every text is kept: issue 18), back from PostgreSQL.
    assert closed["request"]["offers"] == unicodedata.normalize("NFC", hostile(5000, 2))
    history = await desk.history(case, COORDINATOR)
    assert history[-1]["payload"]["note"] == unicodedata.normalize("NFC", hostile(5000, 12))
    assert (await desk.http.get(f"/api/cases/{case['id']}/history/verify",
                                headers=desk.headers(COORDINATOR))).json()["valid"] is True
    assert await temporal.get_workflow_handle(workflow_id(case["id"])).result() == "alliance_formed_with_fund"
    assert await open_incidents(engine, case["id"]) == []  # no step of it failed, so none was retried
    largest, _ = await largest_payload(temporal, case["id"])
    assert largest < PAYLOAD_BOUND, f"a payload of {largest} bytes crossed Temporal"
