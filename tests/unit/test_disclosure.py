"""Issue 19: every viewer × every field of `domain.disclosure` is what the views really return, the README holds
the table word for word, and no e-mail names a person or an SME.

Each cell is observed, not assumed: a probe looks at what `case_view` / `history_view` return for one genuine
case (every field filled in: office notes, an assignee, candidates, a shortlist with an interested and an
uninterested SME, answers with notes, partners, a proposal, internal notes) and says whether the field is
shown as stored, masked or absent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from domain import events, notifications
from domain.audit import AuditEntry, make_entry
from domain.disclosure import NOT_VISIBLE, ROWS, TABLE, Shown, Viewer, candidate_alias, markdown_table, viewer_of
from domain.filing import FilingRequest
from domain.model import Action, Actor, CaseState
from domain.payloads import parse_payload
from domain.rules import can_see
from domain.transitions import new_case
from domain.views import CaseView, HistoryEvent, case_view, history_view
from tests.helpers.people import (
    ADMIN_ACTOR,
    APPLICANT_ACTOR,
    AUDITOR_ACTOR,
    COORDINATOR_ACTOR,
    FUND_A_ACTOR,
    FUND_B_ACTOR,
    OTHER_APPLICANT_ACTOR,
    manager_actor,
    officer_actor,
)
from tests.helpers.states import CANDIDATES, CASE_ID, LEAD, PROPOSAL, SECOND, T0, UNRELAYED, step
from tests.helpers.support import filing

VIEWERS: dict[Viewer, Actor] = {
    Viewer.APPLICANT: APPLICANT_ACTOR,
    Viewer.OTHER_COMPANY: OTHER_APPLICANT_ACTOR,
    Viewer.COORDINATOR: COORDINATOR_ACTOR,
    Viewer.RELAYED_OFFICE: officer_actor(SECOND),
    Viewer.LEAD_OFFICE: manager_actor(LEAD),
    Viewer.OTHER_OFFICE: officer_actor(UNRELAYED),
    Viewer.FUND_COMMITTEE: FUND_A_ACTOR,
    Viewer.CONFLICTED_MEMBER: FUND_B_ACTOR.model_copy(update={"conflicts": frozenset({APPLICANT_ACTOR.org})}),
    Viewer.AUDITOR: AUDITOR_ACTOR,
    Viewer.ADMIN: ADMIN_ACTOR,
}
LEAD_OFFICER = officer_actor(LEAD)
STEPS: list[tuple[Actor, Action, dict[str, Any]]] = [
    (COORDINATOR_ACTOR, Action.REQUEST_INFO, {"questions": ["Which tolerances?"]}),
    (APPLICANT_ACTOR, Action.PROVIDE_INFO, {"answer": "Five micrometres."}),
    (COORDINATOR_ACTOR, Action.RELAY, {"offices": [LEAD, SECOND], "note": "Two fits"}),
    (LEAD_OFFICER, Action.ACCEPT_CASE, {"note": "We take it."}),
    (LEAD_OFFICER, Action.RUN_MATCHING, {"limit": 10}),
    (LEAD_OFFICER, Action.SHORTLIST, {"sme_ids": ["sme-0002", "sme-0001"]}),
    (LEAD_OFFICER, Action.RECORD_RESPONSE, {"sme_id": "sme-0001", "interested": True, "note": "Keen on EU."}),
    (LEAD_OFFICER, Action.RECORD_RESPONSE, {"sme_id": "sme-0002", "interested": False, "note": "Too busy."}),
    (LEAD_OFFICER, Action.SELECT_PARTNER, {"sme_ids": ["sme-0001"]}),
    (COORDINATOR_ACTOR, Action.REASSIGN, {"assignee": "Hiro Nakamura"}),
    (LEAD_OFFICER, Action.PROPOSE_INVESTMENT, PROPOSAL),
    (FUND_A_ACTOR, Action.ADD_NOTE, {"text": "The board meets on Friday."}),
]


def genuine_case() -> tuple[CaseState, list[AuditEntry]]:
    """The case after every step of `STEPS`, and its audit trail."""
    state = new_case(CASE_ID, FilingRequest.model_validate(filing()), APPLICANT_ACTOR, T0)
    entries = [make_entry(case_id=CASE_ID, seq=1, type=events.FILED, actor=APPLICANT_ACTOR.model_dump(mode="json"),
                          at=T0, stage_before=None, stage_after=state.stage, payload=filing(), prev_hash="0" * 64,
                          salt="s" * 32)]
    for actor, action, raw in STEPS:
        before = state
        state = step(state, actor, action, raw, candidates=CANDIDATES if action == Action.RUN_MATCHING else None)
        entries.append(make_entry(
            case_id=CASE_ID, seq=len(entries) + 1, type=action, actor=actor.model_dump(mode="json"),
            at=state.updated_at, stage_before=before.stage, stage_after=state.stage,
            payload=parse_payload(action, raw).model_dump(mode="json"), prev_hash=entries[-1].hash,
        ))
    return state, entries


STATE, ENTRIES = genuine_case()
WITHDRAWN = frozenset({"sme-0003", "sme-9999"})  # consent withdrawn in the registry: a candidate, and another SME


def _same_or(stored: Any, shown: Any, masked: Callable[[Any], bool] = lambda shown: False) -> Shown:
    if shown == stored:
        return Shown.SHOWN
    return Shown.MASKED if masked(shown) else Shown.ABSENT


def _by_candidates(field: str, blank: Any) -> Callable[[dict[str, Any]], Shown]:
    """SHOWN: every shown candidate's `field` as stored; ABSENT: all blank; else MASKED."""
    stored = {c.sme_id: c.model_dump(mode="json") for c in STATE.candidates}
    names = {c.name: c.sme_id for c in STATE.candidates}

    def probe(view: dict[str, Any]) -> Shown:
        values = [c[field] for c in view["candidates"]]
        if all(value == blank for value in values):
            return Shown.ABSENT
        real = [stored.get(c["sme_id"]) or stored[names[c["name"]]] if c["name"] else stored.get(c["sme_id"])
                for c in view["candidates"]]
        return Shown.SHOWN if all(r is not None and r[field] == v for r, v in zip(real, values, strict=True)) \
            else Shown.MASKED

    return probe


def _contact(view: dict[str, Any]) -> Shown:
    return _same_or(STATE.request.contact.model_dump(mode="json"), view["request"].get("contact"))


CASE_PROBES: dict[str, Callable[[dict[str, Any]], Shown]] = {
    "case": lambda v: _same_or((STATE.reference, STATE.stage, STATE.lead_office, STATE.questions),
                               (v["reference"], v["stage"], v["lead_office"], v["questions"])),
    "request": lambda v: _same_or((STATE.request.offers, STATE.request.company.name),
                                  (v["request"]["offers"], v["company"]["name"])),
    "request.contact": _contact,
    "offices.review": lambda v: _same_or([o.review for o in STATE.offices], [o["review"] for o in v["offices"]]),
    "offices.note": lambda v: _same_or([o.note or None for o in STATE.offices],
                                       [o["note"] or None for o in v["offices"]]),
    "assignee": lambda v: _same_or(STATE.assignee, v["assignee"]),
    "candidates": lambda v: _same_or(len(STATE.candidates), len(v["candidates"]), lambda n: 0 < n),
    "candidates.sme_id": _by_candidates("sme_id", None),
    "candidates.name": lambda v: _same_or([c.name for c in STATE.candidates if c.sme_id in {x["sme_id"] for x in
                                                                                            v["candidates"]}],
                                          [c["name"] for c in v["candidates"]], lambda names: None in names),
    "candidates.score": _by_candidates("score", None),
    "shortlist": lambda v: _same_or(STATE.shortlist, v["shortlist"], lambda s: len(s) == len(STATE.shortlist)),
    "responses": lambda v: _same_or([r.sme_id for r in STATE.responses], [r["sme_id"] for r in v["responses"]],
                                    lambda ids: 0 < len(ids)),
    "responses.note": lambda v: _same_or({r.sme_id: r.note or None for r in STATE.responses if r.sme_id in
                                          {x["sme_id"] for x in v["responses"]}},
                                         {r["sme_id"]: r["note"] or None for r in v["responses"]}),
    "partners": lambda v: _same_or(STATE.partners, v["partners"]),
    "proposal": lambda v: _same_or((PROPOSAL["route"], PROPOSAL["amount_jpy"]),
                                   (v["proposal"]["route"], v["proposal"]["amount_jpy"])),
    "proposal.rationale": lambda v: _same_or(PROPOSAL["rationale"], v["proposal"]["rationale"]),
    "proposal.proposed_by": lambda v: _same_or(LEAD_OFFICER.name, v["proposal"]["proposed_by"]),
    "consent_withdrawn": lambda v: _same_or(["sme-0003"], v.get("consent_withdrawn")),
    "notes": lambda v: _same_or((["The board meets on Friday."], 1),
                                ([n["text"] for n in v.get("notes", [])] or None, v.get("notes_total"))),
}


def _history_probe(field: str, events_shown: list[dict[str, Any]]) -> Shown:
    stored = [json.loads(e.model_dump_json()) for e in ENTRIES]
    if field == "history.events":
        return _same_or([e["seq"] for e in stored], [e["seq"] for e in events_shown], lambda seqs: bool(seqs))
    by_seq = {e["seq"]: e for e in stored}
    if field == "history.actor":
        staff = [e for e in events_shown if e["actor"]["role"] != "applicant"]
        return _same_or([by_seq[e["seq"]]["actor"] for e in staff], [e["actor"] for e in staff],
                        lambda actors: all(set(a) == {"role", "org"} for a in actors))
    return _same_or([by_seq[e["seq"]]["payload"] for e in events_shown], [e["payload"] for e in events_shown],
                    lambda payloads: any(payloads))


def observed(field: str, viewer: Actor) -> Shown:
    """What `viewer` is really shown of `field`: nothing at all when it may not know the case exists (404)."""
    if not can_see(STATE, viewer):
        return Shown.ABSENT
    if field.startswith("history."):
        return _history_probe(field, history_view(ENTRIES, viewer, STATE))
    if field == "mail.names":
        return _mail_names()
    view = case_view(STATE, viewer, WITHDRAWN)
    CaseView.model_validate(view)
    return CASE_PROBES[field](view)


def _mail_names() -> Shown:
    """ABSENT when no template, in either language, for any event of the case names a person or an SME."""
    people = {actor.name for actor, _, _ in STEPS} | {"Hiro Nakamura"}
    smes = {c.sme_id for c in CANDIDATES} | {c.name for c in CANDIDATES}
    for key, language in notifications.TEMPLATES:
        subject, body = notifications.render(key, language, STATE, {"stage": STATE.stage, "level": 1})
        if any(secret in subject + body for secret in people | smes):
            return Shown.SHOWN
    return Shown.ABSENT


@pytest.mark.parametrize("viewer", list(Viewer), ids=str)
@pytest.mark.parametrize("field", list(ROWS), ids=str)
def test_every_viewer_is_shown_every_field_as_the_table_says(field: str, viewer: Viewer) -> None:
    actor = VIEWERS[viewer]
    assert viewer_of(STATE, actor) == viewer
    assert observed(field, actor) == ROWS[field].cells[viewer]


def test_every_field_of_a_case_view_is_a_row_or_under_case() -> None:
    """A new field of the case cannot slip past the table: it must be named by a row or by the `case` row."""
    covered = {row.field.split(".")[0] for row in TABLE} | set(ROWS["case"].what.replace(" ", "").split(","))
    covered |= {"assignee_id", "assignee_org"}  # the `assignee` row: who the case is assigned to
    covered |= {"id", "outcome", "service_levels", "due_at", "overdue", "escalation_level", "created_at",
                "updated_at", "notes_total", "as_of", "applicant_org", "lead_office", "paused", "clock", "company"}
    assert set(CaseView.model_fields) <= covered, set(CaseView.model_fields) - covered


def test_those_who_may_not_know_the_case_see_nothing() -> None:
    for viewer in NOT_VISIBLE:
        assert not can_see(STATE, VIEWERS[viewer]), viewer
        assert all(row.cells[viewer] == Shown.ABSENT for row in TABLE)


def test_the_applicant_never_receives_an_identifier_of_an_smes_that_did_not_say_yes() -> None:
    """Issue 19, seen 1: the corporate number of a shortlisted SME that has not said it is interested resolves
    to the company; the applicant knows it only as the case's alias, in the view and in its history."""
    view = json.dumps(case_view(STATE, APPLICANT_ACTOR)) + json.dumps(history_view(ENTRIES, APPLICANT_ACTOR))
    for secret in ("sme-0002", "Ono Sensor Works", "sme-0003", "Mori Tooling"):
        assert secret not in view
    assert "Candidate A" in view and "sme-0001" in view
    for event in history_view(ENTRIES, APPLICANT_ACTOR):
        HistoryEvent.model_validate(event)


def test_aliases_follow_the_shortlist() -> None:
    assert [candidate_alias(i) for i in (0, 1, 25, 26, 27, 701, 702)] == [
        "Candidate A", "Candidate B", "Candidate Z", "Candidate AA", "Candidate AB", "Candidate ZZ", "Candidate AAA"]


def test_the_readme_holds_the_table() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert markdown_table() in readme
