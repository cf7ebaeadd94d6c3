"""The signed events the Case Desk itself writes onto a trail (`domain.system_events`): chained after the head the
caller read, signed as the recording step signs, hashed as they were before one helper built them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from domain.audit import GENESIS_HASH, make_entry, sign
from domain.chain_verification import first_broken
from domain.model import OPERATOR, SYSTEM_ACTOR, Actor, Role
from domain.signing import EVENT_CONTEXT, Keyring, Signer
from domain.system_events import signed_event_after

SIGNER = Signer.from_seed(bytes(range(32)))
AT = datetime(2026, 3, 3, 9, tzinfo=UTC)
PAYLOAD: dict[str, Any] = {"message": "m-1", "contact": {"name": "Anna", "email": "anna@example.com"}}


def test_the_event_is_chained_after_the_head_and_signed() -> None:
    head = make_entry(case_id="c-1", seq=1, type="close_case", actor=SYSTEM_ACTOR.model_dump(mode="json"), at=AT,
                      stage_before="matching", stage_after="closed", payload={}, prev_hash=GENESIS_HASH)
    event = signed_event_after(case_id="c-1", last_seq=head.seq, last_hash=head.hash, type="mail_undeliverable",
                               at=AT, stage_before="closed", stage_after="closed", payload={"message": "m-1"},
                               signer=SIGNER)
    assert (event.seq, event.prev_hash) == (2, head.hash)
    assert first_broken([head, event]) is None
    assert Keyring.of([SIGNER.public]).check(EVENT_CONTEXT, event.hash, event.key_id, event.signature) is None
    assert event.actor == SYSTEM_ACTOR.model_dump(mode="json")
    assert event.hash_version == 1 and event.personal is None


def test_an_empty_trail_starts_at_seq_one_after_the_genesis_hash() -> None:
    operator = Actor(id="operator:op", name="op", role=Role.ADMIN, org=OPERATOR)
    event = signed_event_after(case_id="oversight", last_seq=0, last_hash=GENESIS_HASH, type="anchored", at=AT,
                               stage_before=None, stage_after="oversight", payload={}, signer=SIGNER, actor=operator)
    assert (event.seq, event.prev_hash, event.stage_before) == (1, GENESIS_HASH, None)
    assert event.actor == operator.model_dump(mode="json")


def test_the_same_inputs_give_the_hash_and_signature_the_hand_built_event_had() -> None:
    """The hash pinned here was worked out by `sign(make_entry(...))` as each caller built it before the helper."""
    event = signed_event_after(case_id="c-1", last_seq=3, last_hash="a" * 64, type="mail_undeliverable", at=AT,
                               stage_before="closed", stage_after="closed", payload=PAYLOAD, signer=SIGNER,
                               salt="b" * 32)
    assert event == sign(make_entry(
        case_id="c-1", seq=4, type="mail_undeliverable", actor=SYSTEM_ACTOR.model_dump(mode="json"), at=AT,
        stage_before="closed", stage_after="closed", payload=PAYLOAD, prev_hash="a" * 64, salt="b" * 32), SIGNER)
    assert event.hash == "04cbb0d172632996b92b87387828d338aba8b0a719fe78487d0d2fb35570ce16"
    assert event.hash_version == 2 and event.personal == {"contact": PAYLOAD["contact"]}
    assert "contact" not in event.payload
