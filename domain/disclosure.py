"""What each kind of viewer is shown of a case, its history and its mail: the one disclosure table (issue 19).

The scheme shares identities only with consent, and the Act on the Protection of Personal Information expects
the operator to account for personal data, so every field is decided here, once, for every kind of viewer:
`SHOWN` as stored, `MASKED` in the replaced form the row's `masked` says, or `ABSENT` (not sent: missing, None,
empty). `domain.views` applies this table (it has one masking function per masked or absent cell, checked at
import), the README's "Who sees what" holds `markdown_table()` word for word, and a test checks every viewer ×
field against what the views return.

A viewer who may not know the case exists (`domain.rules.can_see`: another company's applicant, an office the
case was never relayed to, an admin) is shown nothing — the API answers 404 — so its column is `ABSENT`
throughout; the table holds for the cases a viewer may see (the fund committee sees a case once it has, or had,
a proposal).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.conflicts import conflicted
from domain.model import Actor, CaseState, Role


class Viewer(StrEnum):
    """Kinds of viewer of one case (docs/DESIGN.md §2, with offices told apart by their part in the case)."""

    APPLICANT = "applicant"
    OTHER_COMPANY = "other company"
    COORDINATOR = "coordinator"
    RELAYED_OFFICE = "relayed office"
    LEAD_OFFICE = "lead office"
    OTHER_OFFICE = "other office"
    FUND_COMMITTEE = "fund committee"
    CONFLICTED_MEMBER = "conflicted member"
    AUDITOR = "auditor"
    ADMIN = "admin"


class Shown(StrEnum):
    SHOWN = "shown"
    MASKED = "masked"
    ABSENT = "absent"


def viewer_of(state: CaseState, actor: Actor) -> Viewer:
    """The kind of viewer `actor` is of this case. Officers and managers of an office count alike."""
    match actor.role:
        case Role.APPLICANT:
            return Viewer.APPLICANT if state.applicant_org == actor.org else Viewer.OTHER_COMPANY
        case Role.OFFICE_OFFICER | Role.OFFICE_MANAGER:
            if state.lead_office is not None and actor.org == state.lead_office:
                return Viewer.LEAD_OFFICE
            return Viewer.RELAYED_OFFICE if state.review_of(actor.org) is not None else Viewer.OTHER_OFFICE
        case Role.COORDINATOR:
            return Viewer.COORDINATOR
        case Role.FUND_COMMITTEE:
            return Viewer.CONFLICTED_MEMBER if conflicted(state, actor) else Viewer.FUND_COMMITTEE
        case Role.AUDITOR:
            return Viewer.AUDITOR
        case _:
            return Viewer.ADMIN


@dataclass(frozen=True)
class Row:
    """One field (a case key, a part of one, or what a history or a mail carries) and who sees it how."""

    field: str
    what: str
    masked: str  # what a MASKED cell shows instead ("" where no cell is masked)
    cells: dict[Viewer, Shown]


_S, _M, _A = Shown.SHOWN, Shown.MASKED, Shown.ABSENT
NOT_VISIBLE = {Viewer.OTHER_COMPANY: _A, Viewer.OTHER_OFFICE: _A, Viewer.CONFLICTED_MEMBER: _A, Viewer.ADMIN: _A}
"""Viewers who may not know the case exists (404): a fund committee member with a conflict of interest declared with
one of its companies (`domain.conflicts.conflicted`) among them."""
STAFF_ALL = {Viewer.COORDINATOR: _S, Viewer.RELAYED_OFFICE: _S, Viewer.LEAD_OFFICE: _S, Viewer.FUND_COMMITTEE: _S,
             Viewer.AUDITOR: _S}


def _row(field: str, what: str, applicant: Shown, masked: str = "", *, staff: Shown = Shown.SHOWN) -> Row:
    staff_cells = {viewer: staff for viewer in STAFF_ALL}
    return Row(field, what, masked, {Viewer.APPLICANT: applicant, **staff_cells, **NOT_VISIBLE})


TABLE: tuple[Row, ...] = (
    _row("case", "id, reference, stage, outcome, applicant_org, lead_office, questions, paused, service levels, "
         "clock, due date, overdue, escalation, times, company, allowed_actions", _S),
    _row("request", "company, what is sought, ticket, offers", _S),
    _row("request.contact", "the applicant's contact person (personal data)", _S),
    _row("offices.review", "each relayed office and its review state", _S),
    _row("offices.note", "an office's note on its review", _A),
    _row("assignee", "the staff member the case is assigned to (a name and a user id)", _A),
    _row("candidates", "the SMEs matching proposed", _M, "only the shortlisted ones"),
    _row("candidates.sme_id", "an SME's corporate number", _M,
         "the case's alias (`Candidate A`, `Candidate B`… in shortlist order) until the SME said it is interested"),
    _row("candidates.name", "an SME's name", _M, "None until the SME said it is interested"),
    _row("candidates.score", "match score, factors and reason", _A),
    _row("shortlist", "the shortlisted SMEs", _M, "corporate number once interested, else the alias"),
    _row("responses", "the SMEs' answers", _M, "only the interested ones"),
    _row("responses.note", "the officer's note on an answer", _A),
    _row("partners", "the selected partners (all said they are interested)", _S),
    _row("proposal", "the fund proposal's route and amount", _S),
    _row("proposal.rationale", "the proposal's rationale", _A),
    _row("proposal.proposed_by", "who prepared the proposal (a name)", _A),
    _row("notes", "internal notes and their count", _A),
    _row("consent_withdrawn", "candidates that withdrew their consent to be matched since", _A),
    _row("history.events", "the audit events", _M,
         "only the outward steps (filed, questions and answers, relay, acceptance, partner selection, closing) "
         "and any voiding of events the case never took"),
    _row("history.actor", "who took each step", _M, "staff by role and organisation, never by name"),
    _row("history.payload", "what each step carried", _M,
         "only the filing, the questions, the answers, a withdrawal and a voiding (which seqs); `{}` for the others"),
    _row("mail.names", "names of staff, SMEs' names and numbers in e-mail about a case (offices are named by "
         "organisation; an applicant is mailed about its own case only)", _A, staff=_A),
)
ROWS: dict[str, Row] = {row.field: row for row in TABLE}


def shown(field: str, viewer: Viewer) -> Shown:
    return ROWS[field].cells[viewer]


def hidden_fields(viewer: Viewer) -> list[str]:
    """The fields `viewer` is not shown as stored, in table order."""
    return [row.field for row in TABLE if row.cells[viewer] != Shown.SHOWN]


def personal_shown(state: CaseState, actor: Actor) -> tuple[list[str], list[str]]:
    """What of `state`'s personal data a view of it shows `actor`, for the access log: the fields (table field
    names) and the SMEs identified (corporate numbers), both empty when nothing personal is shown.

    Personal data here: the applicant's contact person, and an SME's identity in a case (the scheme discloses it
    only with consent)."""
    viewer = viewer_of(state, actor)
    fields = ["request.contact"] if shown("request.contact", viewer) == Shown.SHOWN else []
    match shown("candidates.sme_id", viewer):
        case Shown.SHOWN:
            smes = [c.sme_id for c in state.candidates]
        case Shown.MASKED:
            smes = [sme for sme in state.shortlist if sme in state.interested_smes()]
        case _:
            smes = []
    return ([*fields, "candidates.sme_id"] if smes else fields), smes


def candidate_alias(index: int) -> str:
    """`Candidate A` … `Candidate Z`, `Candidate AA` …: how an applicant knows the `index`-th shortlisted SME
    (from 0) until it says it is interested."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return f"Candidate {letters}"


def markdown_table() -> str:
    """The table as the README shows it under "Who sees what"."""
    head = "| field | what | " + " | ".join(viewer.value for viewer in Viewer) + " | masked means |"
    rule = "|---" * (len(Viewer) + 3) + "|"
    lines = [head, rule]
    for row in TABLE:
        cells = " | ".join(row.cells[viewer].value for viewer in Viewer)
        lines.append(f"| `{row.field}` | {row.what} | {cells} | {row.masked} |")
    return "\n".join(lines)
