"""The cross-check's pairing, without I/O: which Update accounts for which event, and what is left over."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.audit import GENESIS_HASH, AuditEntry, make_entry
from domain.crosscheck import AcceptedUpdate, Difference, UpdateOutcome, compare

AT = datetime(2025, 4, 1, 9, 0, tzinfo=UTC)
PERSON = {"id": "c1", "name": "Kenji", "role": "coordinator", "org": "jetro"}
SYSTEM = {"id": "system", "name": "system", "role": "system", "org": "system"}


def trail(*types: str) -> list[AuditEntry]:
    """A chained trail with these event types, seq 1, 2, …"""
    entries: list[AuditEntry] = []
    prev = GENESIS_HASH
    for seq, kind in enumerate(types, start=1):
        actor = SYSTEM if kind in ("reminder", "escalation", "expired") else PERSON
        entry = make_entry(case_id="c", seq=seq, type=kind, actor=actor, at=AT, stage_before=None,
                           stage_after="screening", payload={}, prev_hash=prev)
        entries.append(entry)
        prev = entry.hash
    return entries


def done(name: str, seq: int | None, update_id: str | None = None) -> AcceptedUpdate:
    return AcceptedUpdate(name, update_id or f"u{seq}", UpdateOutcome.COMPLETED, seq)


def failed(name: str, update_id: str = "bad") -> AcceptedUpdate:
    return AcceptedUpdate(name, update_id, UpdateOutcome.FAILED)


def running(name: str, update_id: str = "busy") -> AcceptedUpdate:
    return AcceptedUpdate(name, update_id, UpdateOutcome.RUNNING)


def where(differences: tuple[Difference, ...]) -> list[tuple[str, int | None, str]]:
    return [(d.side, d.seq, d.type) for d in differences]


def test_every_update_with_its_event_is_consistent_and_timer_events_take_no_part() -> None:
    updates = [done("file", 1), done("relay", 2), done("add_note", 4)]
    report = compare(updates, trail("filed", "relay", "reminder", "add_note", "escalation"))
    assert report.consistent and (report.updates, report.events) == (3, 3)


def test_a_failed_update_expects_no_event_and_a_running_one_may_have_one_or_not() -> None:
    entries = trail("filed", "relay")
    assert compare([done("file", 1), failed("reject"), done("relay", 2)], entries).consistent
    assert compare([done("file", 1), done("relay", 2), running("add_note")], entries).consistent
    assert compare([done("file", 1), running("relay")], entries).consistent
    assert compare([done("file", 1), failed("relay")], entries).differences[0].seq == 2


def test_a_repeated_filing_records_nothing() -> None:
    report = compare([done("file", 1, "file"), done("file", 1, "file-again")], trail("filed"))
    assert report.consistent and report.updates == 2
    # …but a failed first filing does not count as the filing.
    assert compare([failed("file"), done("file", 1, "file")], trail("filed")).consistent


def test_an_event_without_an_update_is_named_by_its_seq() -> None:
    updates = [done("file", 1), done("relay", 2), done("add_note", 3)]
    report = compare(updates, trail("filed", "relay", "add_note", "add_note"))
    assert where(report.differences) == [("audit", 4, "add_note")]
    assert report.differences[0].reason == "audit event 4 (add_note) has no accepted Update"
    assert not report.consistent and report.events == 4


def test_an_update_without_its_event_is_named_by_the_seq_it_reported() -> None:
    updates = [done("file", 1), done("add_note", 2, "n1"), done("add_note", 3, "n2"), done("add_note", 4, "n3")]
    entries = [e for e in trail("filed", "add_note", "add_note", "add_note") if e.seq != 3]
    (missing,) = compare(updates, entries).differences
    assert (missing.side, missing.seq, missing.update, missing.update_id, missing.position) == (
        "workflow", 3, "add_note", "n2", 3)
    assert "Update add_note (id n2) accepted and completed as event 3" in missing.reason


def test_an_update_whose_event_has_another_type_is_reported_with_both() -> None:
    report = compare([done("file", 1), done("relay", 2)], trail("filed", "reject"))
    assert where(report.differences) == [("audit", 2, "reject"), ("workflow", 2, "relay")]
    assert "audit event 2 is reject, not relay" in report.differences[1].reason
    # A seq the timers used cannot be an Update's event either.
    timers = compare([done("file", 1), done("relay", 2)], trail("filed", "reminder"))
    assert where(timers.differences) == [("workflow", 2, "relay")]


def test_updates_without_a_reported_seq_pair_in_order() -> None:
    updates = [done("file", None), done("relay", None), done("add_note", None)]
    assert compare(updates, trail("filed", "relay", "add_note")).consistent
    report = compare(updates, trail("filed", "add_note"))
    assert where(report.differences) == [("workflow", None, "relay")]
    report = compare([done("file", None), done("add_note", None)], trail("filed", "add_note", "add_note"))
    assert where(report.differences) == [("audit", 3, "add_note")]


def test_nothing_on_either_side_is_consistent_and_everything_on_one_side_is_all_differences() -> None:
    assert compare([], []).consistent
    assert where(compare([], trail("filed")).differences) == [("audit", 1, "filed")]
    assert where(compare([done("file", 1)], []).differences) == [("workflow", 1, "filed")]
