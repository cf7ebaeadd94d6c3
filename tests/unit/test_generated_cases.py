"""Generated cases (`alliance seed-cases`, issue 21): every step of every life is one the rules allow (a refused one
raises), each chain links, nothing happens out of order or after now, reminders, escalations and expiries are the
system's, and the marks say the case is generated."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

from domain.chain_verification import verify_chain
from domain.generated_cases import GENERATED_ORG_PREFIX, Staff, filing_times, generate_case
from domain.model import FUND, JETRO, SYSTEM_ACTOR, Candidate, Office, Role, Stage
from tests.helpers.people import COORDINATOR_ACTOR, FUND_A_ACTOR, actor

STAFF = Staff({JETRO: [COORDINATOR_ACTOR], FUND: [FUND_A_ACTOR],
               **{str(o): [actor(Role.OFFICE_OFFICER, o, f"officer-{o}")] for o in Office}})
REGISTRY = [Candidate(sme_id=f"10100010000{n:02d}", name=f"SME {n}", score=0.5, factors={}, reason="generated")
            for n in range(6)]
NOW = datetime(2026, 11, 30, 3, tzinfo=UTC)


def test_a_generated_year_is_lawful_chained_back_dated_and_marked() -> None:
    rng = random.Random(3)
    lives = [generate_case(rng, n, at, NOW, STAFF, REGISTRY) for n, at in enumerate(filing_times(rng, 300, NOW, 12))]
    outcomes = Counter(c.state.outcome for c in lives if c.state is not None)
    assert len(outcomes) >= 7 and outcomes[None] > 0  # every kind of ending, and cases still open
    for case in lives:
        assert case.state is not None and verify_chain(case.entries).valid
        assert case.state.reference.startswith("GEN-GA-") and case.state.applicant_org.startswith(GENERATED_ORG_PREFIX)
        assert [e.seq for e in case.entries] == list(range(1, len(case.entries) + 1)) == list(
            range(1, case.state.seq + 1))
        assert all(a.at <= b.at <= NOW for a, b in zip(case.entries, case.entries[1:], strict=False))
        for fired in (e for e in case.entries if e.actor == SYSTEM_ACTOR.model_dump(mode="json")):
            assert fired.type in ("reminder", "escalation", "expired")
    timers = Counter(e.type for c in lives for e in c.entries if e.type in ("reminder", "escalation", "expired"))
    assert timers["reminder"] and timers["escalation"] and timers["expired"]
    assert all(c.state is not None and (c.state.stage == Stage.CLOSED) == (c.state.outcome is not None) for c in lives)
