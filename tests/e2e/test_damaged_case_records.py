"""A case whose read-model row (`cases.snapshot`, which no trigger guards) its owner altered to JSON that is no
case: the steps and jobs that read it — the mail relay's event on a closed case, retention, a bulk reassignment —
give a verdict for that case (`infra.case_rows.stored_case`), never a crash or a retry, and go on with the others;
the lists (API and console) show the others and list it as damaged. Each test has a database of its own (`team`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from infra.closed_cases import append_to_closed_case
from infra.evidence_check import check_pack
from infra.export_check import check_export
from infra.retention import archive_closed_cases
from infra.settings import Settings
from infra.tables import audit_events, cases
from services.work import HEAD
from tests.helpers.people import APPLICANT, AUDITOR, COORDINATOR, SBIC, SJ, manager, officer
from tests.helpers.reassigning import accepted_by, finished, start
from tests.helpers.tampering import damage_record, set_case_column
from tests.helpers.team import SECOND_OFFICER, Team

NO_CASE = "cannot be read back: its stored record (the read model's snapshot) is not a case"
CLOSED_BUT_NO_CASE = '{"stage": "closed"}'
"""A record that says the case is closed but holds no case."""


async def in_sbic_queue(team: Team) -> dict[str, Any]:
    """A case in matching that SBIC leads and nobody has claimed: in SBIC's queue by its row's own columns (in
    office review, the queue asks the record which offices still have to review it)."""
    return await team.ok(await accepted_by(team, officer(SBIC)), "release", officer(SBIC))


async def test_a_closed_case_whose_record_is_no_case_gets_no_event_and_is_not_archived(
    team: Team, settings: Settings, tmp_path: Path
) -> None:
    """Both read the record with pydantic: the mail relay's event on a closed case raised a ValidationError (its
    reporter retried it for ever), retention refused the case with pydantic's list of errors."""
    assert team.engine is not None
    damaged, intact = await team.file(APPLICANT), await team.file(APPLICANT)
    for case in (damaged, intact):
        assert (await team.ok(case, "withdraw", APPLICANT, reason="plans changed"))["stage"] == "closed"
    await damage_record(team.engine, damaged["id"], CLOSED_BUT_NO_CASE)

    told = await append_to_closed_case(team.engine, settings.audit_keys.signer, damaged["id"], "mail_undeliverable",
                                       {"note": "bounced"}, datetime.now(UTC))
    assert told == "damaged"
    async with team.engine.connect() as conn:
        events = await conn.scalar(select(func.count()).where(audit_events.c.case_id == damaged["id"]))
    assert events == 2, "nothing chained onto its trail"

    archived = await archive_closed_cases(team.engine, datetime.now(UTC) + timedelta(seconds=1), tmp_path, 10,
                                          datetime.now(UTC), settings.audit_keys)
    assert archived.archived == [intact["id"]], archived.refused
    assert f"case {damaged['id']} {NO_CASE}" in archived.refused[damaged["id"]]


async def test_a_bulk_reassignment_fails_the_case_whose_record_is_no_case_and_moves_the_others(team: Team) -> None:
    """The step read the record with pydantic: a ValidationError, tried three times, then `failed` with pydantic's
    words. It is the verdict naming the case, at once."""
    assert team.engine is not None
    damaged, intact = [await accepted_by(team, officer(SBIC)) for _ in range(2)]
    await damage_record(team.engine, damaged["id"], "[]")
    started = await start(team, manager(SBIC), officer(SBIC), SECOND_OFFICER)
    assert started.status_code == 202, started.text
    job = await finished(team, started.headers["location"], manager(SBIC))
    assert job["counts"] == {"reassigned": 1, "failed": 1}, job
    outcomes = {r["case_id"]: r for r in job["results"]}
    assert outcomes[intact["id"]]["outcome"] == "reassigned"
    assert f"case {damaged['id']} {NO_CASE}" in outcomes[damaged["id"]]["detail"], outcomes


async def test_one_case_whose_record_is_no_case_is_listed_as_damaged_and_hides_no_other(team: Team) -> None:
    """Every list page read each row's record as a case: one that was no case made the whole page a 409, hiding every
    other case from staff (`GET /api/cases`, `/api/work`, the console's lists) and stopping "take the next case"
    for the whole office. The page now shows the others and lists that one under `damaged`, from its row's own
    columns; taking the next case passes it over."""
    assert team.engine is not None
    damaged, *others = [await in_sbic_queue(team) for _ in range(3)]  # the first filed is the most urgent
    await damage_record(team.engine, damaged["id"], "[]")
    listed = {"id": damaged["id"], "reference": damaged["reference"], "stage": damaged["stage"]}

    for url in ("/api/cases", "/api/work"):
        answer = await team.http.get(url, headers=team.headers(officer(SBIC)))
        assert answer.status_code == 200, f"{url}: {answer.text}"
        assert sorted(c["id"] for c in answer.json()["items"]) == sorted(c["id"] for c in others), url
        (found,) = answer.json()["damaged"]
        assert {k: found[k] for k in listed} == listed and NO_CASE in found["detail"], url
    first = (await team.http.get("/api/work?limit=1", headers=team.headers(officer(SBIC)))).json()
    assert (first["items"], [d["id"] for d in first["damaged"]]) == ([], [damaged["id"]])
    after = (await team.http.get("/api/work", params={"limit": 1, "cursor": first["next_cursor"]},
                                 headers=team.headers(officer(SBIC)))).json()
    assert [c["id"] for c in after["items"]] == [others[0]["id"]], "the page after a damaged one goes on"

    for person, path in ((officer(SBIC), "/cases"), (officer(SBIC), "/work"), (AUDITOR, "/audit")):
        async with team.browser(person) as browser:
            page = await browser.get(path)
        assert page.status_code == 200, f"{path}: {page.text[:500]}"
        assert all(case["reference"] in page.text for case in others), path
        assert f'data-case="{damaged["id"]}" data-damaged="true"' in page.text, path

    taken = await team.http.get("/api/work/next", headers=team.headers(officer(SBIC)))
    assert taken.status_code == 200 and taken.json()["id"] == others[0]["id"], taken.text


async def test_taking_the_next_case_passes_over_more_damaged_cases_than_it_reads_at_a_time(team: Team) -> None:
    """`take_next` read the queue's ten most urgent cases again and again: with ten damaged ones on top, each round
    read the same ten, passed them over, and after ten rounds answered 204 ("the queue is empty") though an intact
    case waited right after them. It reads on past the cases it passed over."""
    assert team.engine is not None
    queued = [await in_sbic_queue(team) for _ in range(HEAD + 1)]  # the first filed are the most urgent
    for case in queued[:HEAD]:
        await damage_record(team.engine, case["id"], "[]")

    taken = await team.http.get("/api/work/next", headers=team.headers(officer(SBIC)))
    assert taken.status_code == 200, taken.text
    assert taken.json()["id"] == queued[HEAD]["id"] and taken.json()["assignee"] is not None


async def test_taking_the_next_case_passes_over_any_number_of_damaged_cases(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`take_next` gave up after ten reads of the queue: with more damaged cases on top than ten reads held (100
    at the default size of a read, 10 here with reads of one case), it answered 204 ("the queue is empty") though
    an intact case waited right after them. It reads on until the queue has no case it has not read."""
    assert team.engine is not None
    monkeypatch.setattr("services.work.HEAD", 1)
    monkeypatch.setattr("services.work.WIDEST_HEAD", 1)
    queued = [await in_sbic_queue(team) for _ in range(12)]
    for case in queued[:11]:
        await damage_record(team.engine, case["id"], "[]")

    taken = await team.http.get("/api/work/next", headers=team.headers(officer(SBIC)))
    assert taken.status_code == 200, taken.text
    assert taken.json()["id"] == queued[11]["id"] and taken.json()["assignee"] is not None
    again = await team.http.get("/api/work/next", headers=team.headers(officer(SBIC)))
    assert again.status_code == 204, "only damaged cases are left: the queue has nothing to take"


async def test_a_damaged_case_in_office_review_stays_in_the_queue_of_the_office_reviewing_it(team: Team) -> None:
    """An office's queue asked the case's record (its snapshot) which offices still have to review it: a case whose
    record is no case waited on no office, so it was in nobody's "My work" (listed nowhere as damaged either) and
    no one would ever see it needed repair. It stays in the queues of the offices its row names, listed as damaged;
    an office it does not name still sees nothing of it."""
    assert team.engine is not None
    case = await team.file(APPLICANT)
    await team.ok(case, "relay", COORDINATOR, offices=[SBIC])
    await damage_record(team.engine, case["id"], "[]")

    for person in (officer(SBIC), manager(SBIC)):
        answer = await team.http.get("/api/work", headers=team.headers(person))
        assert answer.status_code == 200, answer.text
        assert [d["id"] for d in answer.json()["damaged"]] == [case["id"]], (person, answer.json())
    other = await team.http.get("/api/work", headers=team.headers(officer(SJ)))
    assert other.status_code == 200 and case["id"] not in other.text and case["reference"] not in other.text


async def test_a_record_copied_from_another_case_shows_nothing_of_that_case(team: Team) -> None:
    """A row whose record is another case's (its owner copied a snapshot across, a restore put it in the wrong row)
    read as that other case: SBIC's lists, scoped by the row's own columns, showed an SME Support Japan case — its
    id, reference and company — to SBIC's staff. A record that is not the row's case is listed as damaged, from the
    row's own columns, and opening the case says so."""
    assert team.engine is not None
    ours = await team.file(APPLICANT, company="Seen Here KK")
    await team.ok(ours, "relay", COORDINATOR, offices=[SBIC])
    theirs = await team.file(APPLICANT, company="Hidden Elsewhere GmbH")
    await team.ok(theirs, "relay", COORDINATOR, offices=[SJ])
    async with team.engine.connect() as conn:
        copied = await conn.scalar(select(cases.c.snapshot).where(cases.c.id == theirs["id"]))
    await damage_record(team.engine, ours["id"], json.dumps(copied))

    for url in ("/api/cases", "/api/work"):
        answer = await team.http.get(url, headers=team.headers(officer(SBIC)))
        assert answer.status_code == 200, f"{url}: {answer.text}"
        assert [d["id"] for d in answer.json()["damaged"]] == [ours["id"]], f"{url}: {answer.text}"
        assert all(leak not in answer.text for leak in (theirs["id"], theirs["reference"], "Hidden Elsewhere")), url
    async with team.browser(officer(SBIC)) as browser:
        page = await browser.get("/cases")
    assert page.status_code == 200 and "Hidden Elsewhere" not in page.text and theirs["reference"] not in page.text
    opened = await team.get(ours, officer(SBIC))
    assert opened.status_code == 409 and ours["id"] in opened.json()["detail"], opened.text


async def test_an_office_export_holds_the_events_of_its_case_whose_record_is_no_case(team: Team) -> None:
    """The audit export of an office's cases asked each case's record which offices it was relayed to: a case whose
    record is no case was left out, its events — all an auditor has left of it — silently missing from the office's
    export. The row's own offices say it, as they scope every list."""
    assert team.engine is not None
    case = await team.file(APPLICANT)
    await team.ok(case, "relay", COORDINATOR, offices=[SBIC])
    await damage_record(team.engine, case["id"], "[]")

    for office, relayed in ((SBIC, True), (SJ, False)):
        answer = await team.http.get("/api/audit/export", params={"office": office}, headers=team.headers(AUDITOR))
        assert answer.status_code == 200, answer.text
        checked = check_export(answer.content)
        assert checked.ok and (checked.count == 2) is relayed and (case["id"] in answer.text) is relayed, office


async def test_retention_names_a_closed_case_whose_record_says_nothing_of_its_stage(
    team: Team, settings: Settings, tmp_path: Path
) -> None:
    """Retention found the cases due by their record's stage: a closed case whose record its owner altered to JSON
    without one (`[]`) was never due, so its personal data was kept past retention with no word of it, run after
    run. The row's own stage finds it, and retention refuses it naming the case, as any record that is no case."""
    assert team.engine is not None
    case = await team.file(APPLICANT)
    assert (await team.ok(case, "withdraw", APPLICANT, reason="plans changed"))["stage"] == "closed"
    await damage_record(team.engine, case["id"], "[]")

    archived = await archive_closed_cases(team.engine, datetime.now(UTC) + timedelta(seconds=1), tmp_path, 10,
                                          datetime.now(UTC), settings.audit_keys)
    assert archived.archived == [] and f"case {case['id']} {NO_CASE}" in archived.refused.get(case["id"], ""), archived


@pytest.mark.parametrize(("column", "value"), [("created_at", "NULL"), ("created_at", "'-infinity'"),
                                               ("due_at", "'infinity'"), ("due_at", "'-infinity'")])
async def test_pages_go_on_past_cases_whose_times_no_case_is_given(team: Team, column: str, value: str) -> None:
    """The lists order by times (`GET /api/cases` newest first or soonest due, `/api/work` soonest due then oldest
    filed): a row whose `created_at` its owner set NULL gave a NULL sort key, which no row follows in the next
    page's keyset condition, so the pages ended before it and it was never listed; one whose time was set to
    ±infinity gave a cursor of "Infinity", which the next page refused (422, "not one this API gave out"). Such
    cases come last, and the pages go on through them."""
    assert team.engine is not None
    queued = [await in_sbic_queue(team) for _ in range(3)]
    await set_case_column(team.engine, column, value, queued[0]["id"], queued[1]["id"])

    for url, sort in (("/api/cases", "-created"), ("/api/cases", "due"), ("/api/work", None)):
        seen: list[str] = []
        params = {"limit": "1"} | ({"sort": sort} if sort else {})
        while True:
            answer = await team.http.get(url, params=params, headers=team.headers(officer(SBIC)))
            assert answer.status_code == 200, f"{url} {sort} after {len(seen)}: {answer.text}"
            seen += [case["id"] for case in answer.json()["items"]]
            if answer.json()["next_cursor"] is None:
                break
            params |= {"cursor": answer.json()["next_cursor"]}
        assert sorted(seen) == sorted(case["id"] for case in queued), (url, sort, seen)

async def test_the_trail_of_a_case_whose_record_is_no_case_is_still_verified_and_packed(
    team: Team, tmp_path: Path
) -> None:
    """Verifying a case's trail and its evidence pack first read the case's record: a record that is no case made both
    a 409, so the auditor could not check, nor take away, the one thing left intact — its audit trail. Both are
    asked of the trail alone; who may see the case is still asked (of the row's own columns)."""
    assert team.engine is not None
    case = await team.file(APPLICANT)
    await team.ok(case, "relay", COORDINATOR, offices=[SBIC])
    await damage_record(team.engine, case["id"], "[]")

    for person in (AUDITOR, officer(SBIC)):
        report = await team.verify(case, person)
        assert report["valid"] and report["events"] == 2, report
    pack = await team.http.get(f"/api/cases/{case['id']}/evidence", headers=team.headers(AUDITOR))
    assert pack.status_code == 200, pack.text[:300]
    (tmp_path / "pack.zip").write_bytes(pack.content)
    assert check_pack(str(tmp_path / "pack.zip"))[0] == []
    hidden = await team.http.get(f"/api/cases/{case['id']}/history/verify", headers=team.headers(officer(SJ)))
    assert hidden.status_code == 404, hidden.text
