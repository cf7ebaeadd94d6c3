"""Which events an `events_voided` event voids, and when a stored event is the one being recorded again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain import events
from domain.audit import AuditEntry, make_entry
from domain.voiding import answering, same_event, void_payload, voided_seqs

AT = datetime(2026, 3, 3, 9, tzinfo=UTC)
ACTOR = {"id": "u1", "name": "Kenji Sato", "role": "coordinator", "org": "jetro"}


def entry(seq: int, type: str, payload: dict[str, Any], *, at: datetime = AT, salt: str | None = None) -> AuditEntry:
    return make_entry(case_id="c", seq=seq, type=type, actor=ACTOR, at=at, stage_before="screening",
                      stage_after="screening", payload=payload, prev_hash="0" * 64, salt=salt)


def test_a_voiding_voids_its_range_and_only_events_before_it() -> None:
    trail = [entry(1, "filed", {}), entry(2, "add_note", {"text": "a"}), entry(3, "add_note", {"text": "b"}),
             entry(4, events.VOIDED, void_payload(2, 3)), entry(5, events.VOIDED, void_payload(5, 9))]
    assert voided_seqs(trail) == {2, 3}, "a voiding cannot void itself or what comes after it"


@pytest.mark.parametrize("payload", [{}, {"from_seq": "2", "to_seq": 3}, {"from_seq": True, "to_seq": 3},
                                     {"from_seq": 3, "to_seq": 2}])
def test_a_voiding_whose_range_is_not_two_seqs_voids_nothing(payload: dict[str, Any]) -> None:
    assert voided_seqs([entry(4, events.VOIDED, payload)]) == set()


def test_the_same_action_at_another_time_under_another_salt_is_the_same_event() -> None:
    contact = {"contact": {"name": "Anna Schmidt", "email": "anna@example.com"}}
    stored = entry(2, "update_contact", contact, salt="a" * 32)
    again = entry(2, "update_contact", contact, at=AT + timedelta(seconds=9), salt="b" * 32)
    assert same_event(stored, again)
    other = entry(2, "update_contact", {"contact": {"name": "Anna Schmidt", "email": "other@example.com"}},
                  salt="a" * 32)
    assert not same_event(stored, other), "personal data differs: another action"
    assert not same_event(stored, entry(2, "add_note", contact, salt="a" * 32))
    assert not same_event(stored, stored.model_copy(update={"actor": {**ACTOR, "id": "u2"}}))
    assert not same_event(stored, stored.model_copy(update={"stage_after": "office_review"}))


def test_only_an_event_left_standing_answers_a_recording_again() -> None:
    """The stored event answers the recording when it is alone at the seq, or right after a voiding of every event
    before it; after strangers nobody voided it was chained onto them by a run that took them: not this run's."""
    note = entry(2, "add_note", {"text": "mine"})
    stranger = entry(2, "add_note", {"text": "lost"})
    mine_later = entry(4, "add_note", {"text": "mine"})
    assert answering([note], note) == note
    assert answering([stranger, entry(3, events.VOIDED, void_payload(2, 2)), mine_later], note) == mine_later
    assert answering([stranger, entry(3, "add_note", {"text": "mine"})], note) is None
    assert answering([stranger, entry(3, "add_note", {"text": "b"}), entry(4, events.VOIDED, void_payload(3, 3)),
                      entry(5, "add_note", {"text": "mine"})], note) is None, "event 2 is left standing"
    assert answering([stranger], note) is None
    assert answering([], note) is None


def test_the_first_of_several_updates_a_lost_task_recorded_answers_its_recording_again() -> None:
    """A lost task recorded two Updates; the task run again takes the first again: it is the event at its seq, and
    the second (its own recording comes next) is not voided for it. With a voiding among them, the rule above."""
    note = entry(2, "add_note", {"text": "mine"})
    second = entry(3, "add_note", {"text": "the next Update's"})
    assert answering([note, second], note) == note
    assert answering([note, second, entry(4, "add_note", {"text": "third"})], note) == note
    assert answering([note, entry(3, events.VOIDED, void_payload(2, 2)), entry(4, "add_note", {"text": "x"})],
                     note) is None, "voided already: not taken again"
