"""Who may take which action, in which stage — the single place these rules are written.

`check` answers with a `Refusal` a person can read, or None when the action may go ahead. The API,
the workflow's Update validators and `allowed_actions` all ask it, so they never disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.conflicts import conflicted
from domain.model import JETRO, Action, Actor, CaseState, Outcome, Review, Role, Stage, a_role
from domain.payloads import Payload, Reassign, RecordResponse, SmeIds
from domain.service_levels import waiting_on

OPEN_STAGES = frozenset(Stage) - {Stage.CLOSED}

# Named role sets: the action table below and every gate outside it (`api.deps.require`) use these, so who may
# do what is written once.
STAFF = frozenset({Role.COORDINATOR, Role.OFFICE_OFFICER, Role.OFFICE_MANAGER, Role.FUND_COMMITTEE})
"""The people who work cases (docs/DESIGN.md §2): JETRO, the offices and the Fund."""
OFFICE_STAFF = frozenset({Role.OFFICE_OFFICER, Role.OFFICE_MANAGER})
CASE_MANAGERS = frozenset({Role.COORDINATOR, Role.OFFICE_MANAGER})
"""Who reassigns, pauses and resumes cases, receives escalations, and so watches the late cases."""
FILERS = frozenset({Role.APPLICANT, Role.COORDINATOR})
"""Who may file a case: an applicant for its own company, a coordinator on an applicant's behalf."""
AUDITORS = frozenset({Role.AUDITOR})
"""Who may export the audit trail (and has the auditor's view of every case)."""
STAFF_AND_AUDITORS = STAFF | AUDITORS
"""Who may verify and cross-check a case's trail and read the dashboard: never an applicant (nor an admin)."""
REGISTRY_READERS = STAFF | AUDITORS | {Role.ADMIN}
"""Who may look SMEs up: staff and oversight; never an applicant, who learns of an SME only once it agrees."""
REGISTRY_KEEPERS = frozenset({Role.OFFICE_MANAGER, Role.ADMIN})
"""Who may import into the SME registry."""
DELEGATORS = STAFF
"""Who may name a colleague to stand in for them while away (issue 21), and find colleagues (`GET /api/users`)."""
OPERATORS = frozenset({Role.ADMIN})
"""Who sees the operation of the system (incidents of stuck cases): the operator's admins."""
MAIL_SINK_READERS = OPERATORS
"""Who reads every message the development mail sink kept; anyone else reads only those addressed to them."""


class RefusalKind(StrEnum):
    NOT_VISIBLE = "not_visible"  # 404: the caller may not know the case exists
    FORBIDDEN = "forbidden"  # 403: the caller may see the case but not take this action
    ILLEGAL_STAGE = "illegal_stage"  # 409: nobody may take this action in the case's stage
    INVALID = "invalid"  # 422: the payload does not fit the case


class Refusal(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: RefusalKind
    action: str
    stage: Stage
    detail: str


# Who may ever take each action, and in which stages it is legal.
ACTION_ROLES: dict[Action, frozenset[Role]] = {
    Action.REQUEST_INFO: frozenset({Role.COORDINATOR}),
    Action.PROVIDE_INFO: frozenset({Role.APPLICANT}),
    Action.REJECT: frozenset({Role.COORDINATOR}),
    Action.RELAY: frozenset({Role.COORDINATOR}),
    Action.ACCEPT_CASE: OFFICE_STAFF,
    Action.DECLINE_CASE: OFFICE_STAFF,
    Action.RUN_MATCHING: OFFICE_STAFF,
    Action.SHORTLIST: OFFICE_STAFF,
    Action.RECORD_RESPONSE: OFFICE_STAFF,
    Action.SELECT_PARTNER: OFFICE_STAFF,
    Action.CLOSE_NO_MATCH: OFFICE_STAFF,
    Action.PROPOSE_INVESTMENT: OFFICE_STAFF,
    Action.CONCLUDE_WITHOUT_FUND: OFFICE_STAFF,
    Action.APPROVE_INVESTMENT: frozenset({Role.FUND_COMMITTEE}),
    Action.DECLINE_INVESTMENT: frozenset({Role.FUND_COMMITTEE}),
    Action.RETURN_PROPOSAL: frozenset({Role.FUND_COMMITTEE}),
    Action.WITHDRAW: frozenset({Role.APPLICANT}),
    Action.ADD_NOTE: STAFF,
    Action.REASSIGN: CASE_MANAGERS,
    Action.PAUSE: CASE_MANAGERS,
    Action.RESUME: CASE_MANAGERS,
    Action.UPDATE_CONTACT: frozenset({Role.APPLICANT, Role.COORDINATOR}),  # the applicant, or JETRO for it
    Action.CLAIM: OFFICE_STAFF,
    Action.RELEASE: OFFICE_STAFF,
}

ACTION_STAGES: dict[Action, frozenset[Stage]] = {
    Action.REQUEST_INFO: frozenset({Stage.SCREENING}),
    Action.PROVIDE_INFO: frozenset({Stage.AWAITING_APPLICANT_INFO}),
    Action.REJECT: frozenset({Stage.SCREENING}),
    Action.RELAY: frozenset({Stage.SCREENING}),
    Action.ACCEPT_CASE: frozenset({Stage.OFFICE_REVIEW}),
    Action.DECLINE_CASE: frozenset({Stage.OFFICE_REVIEW}),
    Action.RUN_MATCHING: frozenset({Stage.MATCHING}),
    Action.SHORTLIST: frozenset({Stage.MATCHING}),
    Action.RECORD_RESPONSE: frozenset({Stage.MATCHING}),
    Action.SELECT_PARTNER: frozenset({Stage.MATCHING}),
    Action.CLOSE_NO_MATCH: frozenset({Stage.MATCHING}),
    Action.PROPOSE_INVESTMENT: frozenset({Stage.FUND_CONSIDERATION}),
    Action.CONCLUDE_WITHOUT_FUND: frozenset({Stage.FUND_CONSIDERATION}),
    Action.APPROVE_INVESTMENT: frozenset({Stage.INVESTMENT_DECISION}),
    Action.DECLINE_INVESTMENT: frozenset({Stage.INVESTMENT_DECISION}),
    Action.RETURN_PROPOSAL: frozenset({Stage.INVESTMENT_DECISION}),
    Action.WITHDRAW: OPEN_STAGES,
    Action.ADD_NOTE: OPEN_STAGES,
    Action.REASSIGN: OPEN_STAGES,
    Action.PAUSE: OPEN_STAGES,
    Action.RESUME: OPEN_STAGES,
    Action.UPDATE_CONTACT: OPEN_STAGES,
    Action.CLAIM: OPEN_STAGES,
    Action.RELEASE: OPEN_STAGES,
}

LEAD_OFFICE_ACTIONS = frozenset(
    {
        Action.RUN_MATCHING,
        Action.SHORTLIST,
        Action.RECORD_RESPONSE,
        Action.SELECT_PARTNER,
        Action.CLOSE_NO_MATCH,
        Action.PROPOSE_INVESTMENT,
        Action.CONCLUDE_WITHOUT_FUND,
    }
)
FUND_OUTCOMES = frozenset({Outcome.ALLIANCE_FORMED_WITH_FUND, Outcome.INVESTMENT_DECLINED})
QUEUE_ACTIONS = frozenset({Action.CLAIM, Action.RELEASE})
"""Taking a case from an office's queue and putting it back (issue 21): staff of an office the case waits on."""


def is_claimed(state: CaseState) -> bool:
    """Whether somebody works the case now (claimed, accepted or reassigned): it is not in its office's queue."""
    return state.assignee is not None


def can_see(state: CaseState, actor: Actor) -> bool:
    """Whether the caller may know the case exists at all; standing in for someone, both of them must; never with a
    conflict of interest declared with one of its companies."""
    both = _sees(state, actor) and (actor.on_behalf_of is None or _sees(state, actor.on_behalf_of))
    return both and not conflicted(state, actor)


def _sees(state: CaseState, actor: Actor) -> bool:
    match actor.role:
        case Role.COORDINATOR | Role.AUDITOR | Role.SYSTEM:
            return True
        case Role.APPLICANT:
            return state.applicant_org == actor.org
        case Role.OFFICE_OFFICER | Role.OFFICE_MANAGER:
            return state.review_of(actor.org) is not None
        case Role.FUND_COMMITTEE:
            return state.proposal is not None or state.outcome in FUND_OUTCOMES
        case _:
            return False


def _who_refusal(state: CaseState, standing_in: Actor, action: Action) -> str | None:
    """Office scoping and four-eyes: the caller's role may take the action, but may this caller? Standing in for
    someone, the case is judged as theirs (their office, their claim), and four-eyes counts both people."""
    actor = standing_in.principal
    if action in LEAD_OFFICE_ACTIONS and actor.org != state.lead_office:
        return f"only the lead office ({state.lead_office}) may {action}"
    if action in (Action.REASSIGN, Action.PAUSE, Action.RESUME) and actor.role == Role.OFFICE_MANAGER:
        if actor.org != state.lead_office:
            return f"only a manager of the lead office or a coordinator may {action}"
    if action == Action.RELEASE and actor.role == Role.OFFICE_OFFICER and is_claimed(state):
        if state.assignee_id != actor.id:
            return "only the assignee or a manager of the office may release the case"
    proposal = state.proposal
    if action == Action.APPROVE_INVESTMENT and proposal and proposal.proposed_by.people & standing_in.people:
        return "four-eyes: the person who prepared the proposal may not approve it"
    return None


def _state_refusal(state: CaseState, actor: Actor, action: Action) -> str | None:
    """Conditions inside a stage that make an action pointless or contradictory (409)."""
    if action in (Action.ACCEPT_CASE, Action.DECLINE_CASE):
        review = state.review_of(actor.org)
        if review is not None and review.review != Review.PENDING:
            return f"{action} is not possible: the review of {actor.org} is already {review.review}"
    if action in QUEUE_ACTIONS and actor.org not in (waits := waiting_on(state)):
        return f"{action} is not possible: the case waits on {', '.join(waits) or 'nobody'}, not on {actor.org}"
    if action == Action.CLAIM and is_claimed(state):
        whose = "you" if state.assignee_id == actor.id else state.assignee
        return f"{action} is not possible: the case is already assigned to {whose}"
    if action == Action.RELEASE and not is_claimed(state):
        return f"{action} is not possible: nobody is assigned to the case"
    if action == Action.PAUSE and state.paused:
        return f"{action} is not possible: the case is already paused"
    if action == Action.RESUME and not state.paused:
        return f"{action} is not possible: the case is not paused"
    return None


def _membership(wanted: list[str], allowed: set[str], what: str) -> str | None:
    missing = [sme for sme in wanted if sme not in allowed]
    return f"not {what}: {', '.join(missing)}" if missing else None


PayloadCheck = Callable[[CaseState, Payload], str | None]


def _shortlist(state: CaseState, payload: Payload) -> str | None:
    assert isinstance(payload, SmeIds)
    return _membership(payload.sme_ids, {c.sme_id for c in state.candidates}, "among the candidates")


def _response(state: CaseState, payload: Payload) -> str | None:
    assert isinstance(payload, RecordResponse)
    return _membership([payload.sme_id], set(state.shortlist), "on the shortlist")


def _partners(state: CaseState, payload: Payload) -> str | None:
    assert isinstance(payload, SmeIds)
    return _membership(payload.sme_ids, state.interested_smes(), "SMEs that said they are interested")


def _assignee(state: CaseState, payload: Payload) -> str | None:
    """A user the case is reassigned to works for JETRO or an office the case was relayed to."""
    assert isinstance(payload, Reassign)
    on_case = {JETRO, *(str(r.office) for r in state.offices)}
    if payload.assignee_org is not None and payload.assignee_org not in on_case:
        return f"{payload.assignee} ({payload.assignee_org}) does not work on this case: {', '.join(sorted(on_case))}"
    return None


PAYLOAD_CHECKS: dict[Action, PayloadCheck] = {
    Action.REASSIGN: _assignee,
    Action.SHORTLIST: _shortlist,
    Action.RECORD_RESPONSE: _response,
    Action.SELECT_PARTNER: _partners,
}


def needing_consent(action: Action, payload: Payload) -> list[str]:
    """The SMEs this step would take further, so whose consent to be matched must still stand (issue 19):
    shortlisting, an interested answer, selecting as partner. An SME may withdraw consent in the registry at any
    time; a case that matched it before may then take it no further."""
    if isinstance(payload, SmeIds) and action in (Action.SHORTLIST, Action.SELECT_PARTNER):
        return list(payload.sme_ids)
    if isinstance(payload, RecordResponse) and action == Action.RECORD_RESPONSE and payload.interested:
        return [payload.sme_id]
    return []


def consent_refusal(
    state: CaseState, action: Action, without_consent: set[str], closed: set[str] | None = None
) -> Refusal | None:
    """422 naming the SMEs of the step whose consent is withdrawn in the registry (`without_consent`) and those
    the registry holds as closed (`closed`: closed, merged or deleted in the NTA's publication), which no case
    may take further either: matching never proposes them, and one proposed before it closed is no partner."""
    named = (("withdrew consent to be matched", without_consent),
             ("closed in the corporate-number registry", closed or set()))
    reasons = [f"{why}: {', '.join(sorted(smes))}" for why, smes in named if smes]
    if not reasons:
        return None
    return Refusal(kind=RefusalKind.INVALID, action=action, stage=state.stage, detail="; ".join(reasons))


def check(state: CaseState, actor: Actor, action: Action, payload: Payload | None = None) -> Refusal | None:
    """Refuse the action with a reason, or return None when `actor` may take it now.

    Order matters: a caller who may not see the case learns nothing (404); a role that may never take
    the action is told so (403; standing in for someone, both roles must be entitled); an action out of stage
    is a conflict with the case (409); the payload is checked against the case last (422).
    """

    def refuse(kind: RefusalKind, detail: str) -> Refusal:
        return Refusal(kind=kind, action=action, stage=state.stage, detail=detail)

    if not can_see(state, actor):
        return refuse(RefusalKind.NOT_VISIBLE, "no such case")
    if actor.principal.role not in ACTION_ROLES[action]:
        return refuse(RefusalKind.FORBIDDEN, f"{a_role(actor.principal.role)} may not {action}")
    if actor.role not in ACTION_ROLES[action]:  # standing in: the delegate's own rights bound the delegator's
        return refuse(RefusalKind.FORBIDDEN, f"{a_role(actor.role)} may not {action}, even standing in for someone")
    if state.stage not in ACTION_STAGES[action]:
        where = "the case is closed" if state.stage == Stage.CLOSED else f"the case is in {state.stage}"
        return refuse(RefusalKind.ILLEGAL_STAGE, f"{action} is not possible: {where}")
    if (reason := _who_refusal(state, actor, action)) is not None:
        return refuse(RefusalKind.FORBIDDEN, reason)
    if (reason := _state_refusal(state, actor.principal, action)) is not None:
        return refuse(RefusalKind.ILLEGAL_STAGE, reason)
    if payload is not None and (payload_check := PAYLOAD_CHECKS.get(action)) is not None:
        if (reason := payload_check(state, payload)) is not None:
            return refuse(RefusalKind.INVALID, reason)
    return None


def allowed_actions(state: CaseState, actor: Actor) -> list[Action]:
    """The actions the caller may take now, in the order of docs/DESIGN.md §3."""
    return [action for action in Action if check(state, actor, action) is None]
