"""Generated case histories for development (`alliance seed-cases`, issue 21): a year of back-dated activity.

Each case lives its life through the same rules as a real one: every step is judged by `rules.check`, changes
the case by `transitions.apply`, and the service-level moments that came due meanwhile fire (`service_levels.fire`)
at the moment they came due, as the case's workflow would have fired them. The events are chained by `make_entry`
like real ones; the caller signs and stores them. Pure: the same random generator gives the same cases.

What marks a generated case in the data: its reference starts with `GEN-` (real ones with `GA-`), and its
applicant's organisation code with `generated-` (the applicant who files is that organisation, so the `filed`
event, hashed and signed, says so too).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from domain import events
from domain.audit import AuditEntry, make_entry
from domain.calendar import TOKYO, add_business_days
from domain.filing import FilingRequest
from domain.model import FUND, JETRO, SYSTEM_ACTOR, Action, Actor, Candidate, CaseState, Office, Role, Stage
from domain.payloads import parse_payload
from domain.rules import check
from domain.samples import sample_filing
from domain.service_levels import fire, next_moment
from domain.transitions import apply, event_payload, new_case

GENERATED_REFERENCE_PREFIX = "GEN-"
GENERATED_ORG_PREFIX = "generated-"

_COMPANIES = [
    ("Nordlicht Robotics", "DE", "Industrial automation"), ("Lumière Optique", "FR", "Photonics"),
    ("Cascade Biotech", "US", "Biotechnology"), ("Fjord Marine Systems", "NO", "Marine engineering"),
    ("Tallinn Data Works", "EE", "Software"), ("Andes Mining Tech", "CL", "Mining equipment"),
    ("Harbour Medical", "SG", "Medical devices"), ("Maple Battery Co.", "CA", "Energy storage"),
    ("Alpen Sensorik", "AT", "Sensors"), ("Tulip AgriTech", "NL", "Agriculture technology"),
    ("Danube Materials", "HU", "Advanced materials"), ("Kiwi Clean Water", "NZ", "Water treatment"),
]
_TECHNOLOGIES = ["precision machining", "sensors", "MEMS", "CNC", "injection moulding", "signal processing",
                 "surface treatment", "optics", "battery cells", "welding"]

# Mean business days each stage waits before its next step (the service levels are 5, 10, 15 and 20 days; some
# cases run past them, so reminders and escalations happen as they do in life).
_MEAN_DAYS = {
    Stage.SCREENING: 2, Stage.AWAITING_APPLICANT_INFO: 5, Stage.OFFICE_REVIEW: 4, Stage.MATCHING: 5,
    Stage.FUND_CONSIDERATION: 4, Stage.INVESTMENT_DECISION: 7,
}


@dataclass(frozen=True)
class Staff:
    """The people generated cases are handled by, by organisation (JETRO, each office, the Fund): real users,
    so their cases show in their work and can be acted on or reassigned afterwards."""

    people: dict[str, list[Actor]]

    def missing(self) -> list[str]:
        """The organisations without anyone to handle generated cases."""
        return [org for org in (JETRO, *Office, FUND) if not self.people.get(org)]

    def one_of(self, rng: random.Random, org: str) -> Actor:
        return rng.choice(self.people[org])


@dataclass
class GeneratedCase:
    """A case's chain (unsigned: the caller signs and stores it) and the case as it stands after its last event."""

    entries: list[AuditEntry] = field(default_factory=list)
    state: CaseState | None = None


class _Stop(Exception):
    """The case's next step would be after now: it stays open where it is."""


class _Life:
    def __init__(self, rng: random.Random, now: datetime, service_levels: dict[Stage, int] | None) -> None:
        self.rng, self.now, self.levels = rng, now, service_levels
        self.case = GeneratedCase()
        self.at = now

    @property
    def state(self) -> CaseState:
        assert self.case.state is not None
        return self.case.state

    def record(self, event_type: str, actor: Actor, before: CaseState | None, after: CaseState,
               payload: dict[str, Any]) -> None:
        seq = before.seq + 1 if before is not None else 1
        entry = make_entry(
            case_id=after.id, seq=seq, type=event_type, actor=actor.model_dump(mode="json"), at=after.updated_at,
            stage_before=before.stage if before is not None else None, stage_after=after.stage, payload=payload,
            prev_hash=before.last_hash if before is not None else after.last_hash,
            salt=uuid.UUID(int=self.rng.getrandbits(128)).hex,
        )
        self.case.entries.append(entry)
        self.case.state = after.model_copy(update={"seq": seq, "last_hash": entry.hash})

    def file(self, case_id: str, filed_at: datetime, number: int) -> None:
        name, country, industry = self.rng.choice(_COMPANIES)
        org = f"{GENERATED_ORG_PREFIX}{number:05d}"
        body = sample_filing()
        body["company"] |= {"name": f"{name} {number:05d} (generated)", "country": country, "industry": industry,
                            "website": f"https://{org}.example"}
        body["contact"] = {"name": f"Contact {number:05d}", "email": f"contact@{org}.example", "language": "en"}
        body["seeking"]["technologies"] = self.rng.sample(_TECHNOLOGIES, 2)
        request = FilingRequest.model_validate(body)
        self.applicant = Actor(id=str(uuid.UUID(int=self.rng.getrandbits(128))), name=f"Applicant {number:05d}",
                               role=Role.APPLICANT, org=org)
        draft = new_case(case_id, request, self.applicant, filed_at, self.levels)
        draft = draft.model_copy(update={"reference": GENERATED_REFERENCE_PREFIX + draft.reference})
        self.record(events.FILED, self.applicant, None, draft, request.model_dump(mode="json"))
        self.at = filed_at

    def wait(self) -> None:
        """Time passes until the next step (business days about the stage's mean, in office hours)."""
        days = int(self.rng.expovariate(1 / _MEAN_DAYS.get(self.state.stage, 3)))
        if days == 0:
            later = self.at + timedelta(minutes=self.rng.randint(20, 240))
        else:
            day = add_business_days(self.at, days).astimezone(TOKYO)
            later = day.replace(hour=self.rng.randint(9, 17), minute=self.rng.randint(0, 59))
        self.at = max(later, self.at + timedelta(minutes=1))
        self.fire_until(min(self.at, self.now))
        if self.at >= self.now:
            raise _Stop

    def fire_until(self, until: datetime) -> None:
        """The reminders, escalations and expiries that came due by `until`, each at its moment."""
        while self.state.stage != Stage.CLOSED and (moment := next_moment(self.state.clock)) is not None \
                and moment.at <= until:
            before = self.state
            after, event_type, payload = fire(before, moment, moment.at)
            self.record(event_type, SYSTEM_ACTOR, before, after, payload)

    def act(self, actor: Actor, action: Action, raw: dict[str, Any] | None = None,
            candidates: list[Candidate] | None = None) -> bool:
        """Take a step after a wait; False when the case closed meanwhile (expired). Raises `_Stop` at now."""
        self.wait()
        if self.state.stage == Stage.CLOSED:
            return False
        payload = parse_payload(action, raw or {})
        if (refusal := check(self.state, actor, action, payload)) is not None:
            raise AssertionError(f"a generated {action} was refused: {refusal}")  # a bug of this module
        before = self.state
        after = apply(before, actor, action, payload, self.at, candidates)
        self.record(action, actor, before, after, event_payload(action, payload, candidates))
        return True


def generate_case(rng: random.Random, number: int, filed_at: datetime, now: datetime, staff: Staff,
                  registry: list[Candidate], service_levels: dict[Stage, int] | None = None) -> GeneratedCase:
    """One case filed at `filed_at` (before `now`) and driven as far as its life gets by `now`.

    `registry`: SMEs matching may find (at least one); `number` makes the applicant's code and company name.
    """
    life = _Life(rng, now, service_levels)
    life.file(str(uuid.UUID(int=rng.getrandbits(128), version=4)), filed_at, number)
    try:
        _live(life, rng, staff, registry)
    except _Stop:
        pass
    return life.case


def _live(life: _Life, rng: random.Random, staff: Staff, registry: list[Candidate]) -> None:
    coordinator = staff.one_of(rng, JETRO)
    if rng.random() < 0.15:
        life.act(coordinator, Action.REQUEST_INFO, {"questions": ["What volumes do you expect in the first year?"]})
        if rng.random() < 0.3 or not life.act(life.applicant, Action.PROVIDE_INFO, {"answer": "About 10,000 units."}):
            life.fire_until(life.now)  # unanswered: the case expires when its time is up
            return
    if rng.random() < 0.1:
        life.act(coordinator, Action.REJECT, {"reason": "Outside the scheme's scope."})
        return
    offices = rng.sample(list(Office), rng.choice((1, 1, 2)))
    if not life.act(coordinator, Action.RELAY, {"offices": offices}):
        return
    lead = None
    for office in offices:
        officer = staff.one_of(rng, office)
        if rng.random() < 0.7:
            if life.act(officer, Action.ACCEPT_CASE):
                lead = officer
            break
        if not life.act(officer, Action.DECLINE_CASE, {"reason": "No capacity in this field now."}):
            return
    if lead is None:
        return
    found = rng.sample(registry, min(len(registry), rng.randint(2, 5)))
    if not life.act(lead, Action.RUN_MATCHING, {}, candidates=found):
        return
    shortlist = [c.sme_id for c in found[: rng.randint(1, len(found))]]
    life.act(lead, Action.SHORTLIST, {"sme_ids": shortlist})
    interested = []
    for sme_id in shortlist:
        answer = rng.random() < 0.6
        life.act(lead, Action.RECORD_RESPONSE, {"sme_id": sme_id, "interested": answer})
        interested += [sme_id] if answer else []
    if not interested:
        life.act(lead, Action.CLOSE_NO_MATCH, {"reason": "No shortlisted SME was interested."})
        return
    life.act(lead, Action.SELECT_PARTNER, {"sme_ids": interested[:1]})
    if rng.random() < 0.4:
        life.act(lead, Action.CONCLUDE_WITHOUT_FUND, {"note": "The partners go on without the Fund."})
        return
    proposal = {"route": rng.choice(("fund_lp", "co_investment")), "amount_jpy": rng.randint(5, 50) * 10_000_000,
                "rationale": "A strong technical fit with export potential."}
    life.act(lead, Action.PROPOSE_INVESTMENT, proposal)
    member = staff.one_of(rng, FUND)
    if rng.random() < 0.15:
        life.act(member, Action.RETURN_PROPOSAL, {"comments": "Please add the partner's financial statements."})
        life.act(lead, Action.PROPOSE_INVESTMENT, proposal)
    decision = Action.APPROVE_INVESTMENT if rng.random() < 0.7 else Action.DECLINE_INVESTMENT
    life.act(member, decision, {"note": ""} if decision == Action.APPROVE_INVESTMENT else {"reason": "Valuation."})


def filing_times(rng: random.Random, count: int, now: datetime, months: int) -> list[datetime]:
    """`count` filing times spread at random over the `months` (of about 30.4 days) before `now`, oldest first
    (applicants file whenever they like, weekends included)."""
    span = timedelta(days=30.4 * months)
    return sorted(now - span * rng.random() for _ in range(count))
