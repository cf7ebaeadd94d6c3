"""An auditor takes the audit trail away (JSON Lines or CSV) and can tell on their own whether it is whole.

The session database is shared with other tests, so each test looks only at its own cases: by `case=`, or by
a period drawn tight around its own cases' events.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
from datetime import datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.model import Office
from infra.audit_export import COLUMNS, compact_json
from infra.export_check import check_export
from tests.helpers.desk import Desk
from tests.helpers.people import ADMIN, APPLICANT, AUDITOR, COORDINATOR, FUND_MEMBER, Person, manager, officer
from tests.helpers.scenarios import to_matching

SJ, SCB, SBIC = Office.SME_SUPPORT_JAPAN, Office.SHOKO_CHUKIN_BANK, Office.SBIC
EXPORT = "/api/audit/export"


async def export(desk: Desk, person: Person = AUDITOR, **params: str) -> httpx.Response:
    return await desk.http.get(EXPORT, params=params, headers=desk.headers(person))


def jsonl_events(content: bytes) -> list[dict[str, Any]]:
    """The events of a JSON Lines export (every line but the manifest)."""
    return [json.loads(line) for line in content.splitlines()[:-1]]


def csv_events(content: bytes) -> list[dict[str, Any]]:
    """The events of a CSV export, typed back as in JSON Lines (the manifest line dropped)."""
    lines = content.decode("utf-8-sig").split("\r\n")
    assert lines[-2].startswith("#manifest,") and lines[-1] == ""
    rows = list(csv.DictReader(io.StringIO("\r\n".join(lines[:-2]) + "\r\n", newline="")))
    return [row | {"seq": int(row["seq"]), "actor": json.loads(row["actor"]), "payload": json.loads(row["payload"]),
                   "stage_before": row["stage_before"] or None, "hash_version": int(row["hash_version"]),
                   "personal": json.loads(row["personal"]) if row["personal"] else None,
                   "personal_salt": row["personal_salt"] or None, "personal_digest": row["personal_digest"] or None}
            for row in rows]


def manifest_of(content: bytes) -> dict[str, Any]:
    last = content.rstrip(b"\r\n").rsplit(b"\n", 1)[-1].removeprefix(b"#manifest,")
    manifest: dict[str, Any] = json.loads(last)["manifest"]
    return manifest


def when(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["at"])


def key(event: dict[str, Any]) -> tuple[str, int]:
    return (event["case_id"], event["seq"])


def same_event(exported: dict[str, Any], recorded: dict[str, Any]) -> bool:
    """Equal field by field, times compared as instants (the history and the export write them differently)."""
    return set(exported) == set(COLUMNS) and all(
        when(exported) == when(recorded) if name == "at" else exported[name] == recorded[name] for name in COLUMNS
    )


async def test_a_case_export_holds_its_history_and_a_manifest_that_checks(desk: Desk) -> None:
    case = await to_matching(desk)
    response = await export(desk, case=case["id"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=") and f"audit-{case['id']}-" in disposition
    assert disposition.endswith('.jsonl"')

    history = await desk.history(case, AUDITOR)
    events = jsonl_events(response.content)
    assert [key(e) for e in events] == [(case["id"], 1), (case["id"], 2), (case["id"], 3)]
    assert all(same_event(e, h) for e, h in zip(events, history, strict=True))
    assert all(e["at"].endswith("+00:00") and len(e["at"]) == len("2026-03-03T00:00:00.000000+00:00") for e in events)
    assert events[0]["personal"]["contact"]["email"] == "anna@acme.example", "personal data goes out whole"

    manifest = manifest_of(response.content)
    body = response.content[: response.content.rindex(b'{"manifest"')]
    assert manifest["format"] == "jsonl" and manifest["count"] == 3 and manifest["case"] == case["id"]
    assert (manifest["since"], manifest["until"], manifest["office"]) == (None, None, None)
    assert (manifest["first_at"], manifest["last_at"]) == (events[0]["at"], events[-1]["at"])
    assert manifest["sha256"] == hashlib.sha256(body).hexdigest()
    checked = check_export(response.content)
    assert (checked.ok, checked.count, checked.why) == (True, 3, None)


async def test_a_truncated_or_altered_export_fails_its_check(desk: Desk) -> None:
    case = await to_matching(desk)
    for format in ("jsonl", "csv"):
        content = (await export(desk, case=case["id"], format=format)).content
        assert check_export(content).ok
        manifest_line = content.rstrip(b"\r\n").rsplit(b"\n", 1)[-1]
        body = content[: len(content) - len(manifest_line) - (2 if format == "csv" else 1)]

        for cut in (content[:-1], content[: len(content) // 2], body, b""):
            checked = check_export(cut)
            assert not checked.ok and "truncated" in (checked.why or ""), (format, checked)

        forged = content.replace(b"we take it", b"we took it")
        assert forged != content
        checked = check_export(forged)
        assert not checked.ok and "sha256" in (checked.why or "")

        # A forger who also rewrites the manifest's digest is still caught by the event's own hash.
        forged_body = body.replace(b"we take it", b"we took it")
        rewritten = manifest_line.replace(
            manifest_of(content)["sha256"].encode(), hashlib.sha256(forged_body).hexdigest().encode()
        )
        checked = check_export(forged_body + rewritten + (b"\r\n" if format == "csv" else b"\n"))
        assert not checked.ok and f"altered: event 3 of case {case['id']} does not match its hash" == checked.why

        # A dropped event with a rewritten digest: the count no longer holds.
        lines = body.splitlines(keepends=True)
        shorter = b"".join(lines[:-1])
        rewritten = manifest_line.replace(
            manifest_of(content)["sha256"].encode(), hashlib.sha256(shorter).hexdigest().encode()
        )
        checked = check_export(shorter + rewritten + (b"\r\n" if format == "csv" else b"\n"))
        assert not checked.ok and checked.why == "2 events, but the manifest counts 3"


async def test_the_access_log_goes_with_an_export_when_asked_and_its_rows_are_counted(desk: Desk) -> None:
    """Issue 19 Build 3: "the export can include it" — the access log's rows of the case follow its events,
    counted in the manifest and covered by its sha256; a dropped row is found."""
    case = await to_matching(desk)
    assert (await desk.get(case, COORDINATOR)).status_code == 200  # the coordinator is shown the contact
    assert "access_count" not in manifest_of((await export(desk, case=case["id"])).content), "only when asked"
    for format in ("jsonl", "csv"):
        content = (await export(desk, case=case["id"], format=format, access="true")).content
        checked, manifest = check_export(content), manifest_of(content)
        assert (checked.ok, checked.count, checked.why) == (True, 3, None)
        prefix = b'{"access":' if format == "jsonl" else b"#access,"
        lines = [line for line in content.splitlines() if line.startswith(prefix)]
        accesses = [json.loads(line.removeprefix(b"#access,"))["access"] for line in lines]
        assert manifest["access_count"] == len(accesses) >= 1
        assert ("coordinator", "GET /api/cases/{case_id}", case["id"]) in {
            (a["role"], a["route"], a["case_id"]) for a in accesses}
        assert all(a["at"].endswith("+00:00") and "request.contact" in a["fields"] for a in accesses)
        end = b"\n" if format == "jsonl" else b"\r\n"
        manifest_line = content.rstrip(end).rsplit(b"\n", 1)[-1]
        shorter = content[: len(content) - len(manifest_line) - len(end)].replace(lines[-1] + end, b"")
        rewritten = manifest_line.replace(manifest["sha256"].encode(), hashlib.sha256(shorter).hexdigest().encode())
        dropped = check_export(shorter + rewritten + end)
        assert not dropped.ok and "access-log rows, but the manifest counts" in (dropped.why or ""), dropped


async def test_csv_and_jsonl_carry_the_same_events(desk: Desk) -> None:
    case = await to_matching(desk)
    await desk.ok(case, "add_note", officer(SBIC), text='call the CFO, "urgently"; then\nwrite to 佐藤さん')
    as_jsonl = await export(desk, case=case["id"], format="jsonl")
    as_csv = await export(desk, case=case["id"], format="csv")
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.headers["content-disposition"].endswith('.csv"')
    # Excel-ready: a byte-order mark first, so Excel on a Japanese PC reads UTF-8 (not Shift_JIS mojibake)
    assert as_csv.content.startswith(codecs.BOM_UTF8 + (",".join(COLUMNS) + "\r\n").encode())
    jsonl, rows = jsonl_events(as_jsonl.content), csv_events(as_csv.content)
    assert len(jsonl) == 4 and rows == jsonl
    assert rows[0]["stage_before"] is None and rows[-1]["payload"]["text"].endswith("佐藤さん")
    checked = check_export(as_csv.content)
    assert (checked.ok, checked.count) == (True, 4), checked.why
    assert manifest_of(as_csv.content)["format"] == "csv"


async def test_a_period_export_holds_exactly_that_period(desk: Desk) -> None:
    before = await to_matching(desk)
    inside = await to_matching(desk)
    after = await to_matching(desk)
    histories = {c["id"]: await desk.history(c, AUDITOR) for c in (before, inside, after)}
    since, until = when(histories[inside["id"]][0]), when(histories[inside["id"]][-1])
    assert max(map(when, histories[before["id"]])) < since < until < min(map(when, histories[after["id"]]))

    response = await export(desk, since=since.isoformat(), until=until.isoformat())
    assert response.status_code == 200, response.text
    checked = check_export(response.content)
    assert checked.ok, checked.why
    events = jsonl_events(response.content)
    assert all(since <= when(e) < until for e in events)
    assert [(when(e), e["case_id"], e["seq"]) for e in events] == sorted((when(e), e["case_id"], e["seq"])
                                                                         for e in events)
    exported = {key(e) for e in events}
    ours = {key(e): e for h in histories.values() for e in h}
    in_period = {k for k, e in ours.items() if since <= when(e) < until}  # since inclusive, until exclusive
    assert in_period == {(inside["id"], 1), (inside["id"], 2)}
    assert exported & set(ours) == in_period
    manifest = manifest_of(response.content)
    assert (datetime.fromisoformat(manifest["since"]), datetime.fromisoformat(manifest["until"])) == (since, until)


async def test_an_office_export_holds_the_cases_relayed_to_it(desk: Desk) -> None:
    case = await to_matching(desk)  # relayed to SME Support Japan and SBIC
    other = await desk.file(APPLICANT)
    await desk.ok(other, "relay", COORDINATOR, offices=[SCB])
    for office, relayed in ((SBIC, True), (SJ, True), (SCB, False)):
        response = await export(desk, office=office, since=when((await desk.history(case, AUDITOR))[0]).isoformat())
        assert response.status_code == 200, response.text
        exported = {e["case_id"] for e in jsonl_events(response.content)}
        assert (case["id"] in exported) is relayed
        assert (other["id"] in exported) is (office == SCB)
    empty = await export(desk, office=SCB, case=case["id"], format="csv")
    checked = check_export(empty.content)
    assert (checked.ok, checked.count) == (True, 0)
    assert checked.manifest is not None and (checked.manifest["first_at"], checked.manifest["office"]) == (None, SCB)


@pytest.mark.parametrize(
    "value",
    [{}, [], {"a": "x, y: z", "b\"c": ["q\\", "r, "], "é": 1.0, "n": None},
     {"note": "line\nbreak, 佐藤さん: \u2028", "list": [1, 2.5, {"deep": [True, False]}]},
     {"k": ": , :", "": ""}],
)
async def test_jsonb_text_is_compacted_to_the_same_value(engine: AsyncEngine, value: Any) -> None:
    async with engine.connect() as conn:
        rendered = (await conn.execute(text("SELECT CAST(CAST(:v AS jsonb) AS text)"), {"v": json.dumps(value)}))
        stored = rendered.scalar_one()
    assert compact_json(stored) == json.dumps(json.loads(stored), ensure_ascii=False, separators=(",", ":"))
    assert json.loads(compact_json(stored)) == value


# jsonb holds no NUL and no lone surrogate
TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


@hypothesis_settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=JSON_VALUES)
async def test_any_jsonb_text_is_compacted_to_the_same_value(engine: AsyncEngine, value: Any) -> None:
    async with engine.connect() as conn:
        rendered = (await conn.execute(text("SELECT CAST(CAST(:v AS jsonb) AS text)"), {"v": json.dumps(value)}))
        stored = rendered.scalar_one()
    compact = compact_json(stored)
    assert json.loads(compact) == json.loads(stored)
    assert " " not in re.sub(r'"(?:[^"\\]|\\.)*"', "", compact), "no blank is left outside strings"


@pytest.mark.parametrize(
    "person",
    [APPLICANT, COORDINATOR, officer(SBIC), manager(SJ), FUND_MEMBER, ADMIN],
    ids=lambda p: str(p[0]),
)
async def test_only_auditors_may_export(desk: Desk, person: Person) -> None:
    response = await export(desk, person, format="csv")
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:case-desk:forbidden"


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"format": "xml"}, "format"),
        ({"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, "until"),
        ({"since": "2026-03-01T00:00:00+09:00", "until": "2026-02-28T15:00:00Z"}, "until"),  # the same instant
        ({"since": "2026-03-01T00:00:00"}, "since"),  # no offset
        ({"until": "yesterday"}, "until"),
        ({"case": "not-a-case"}, "case"),
        ({"office": "jetro"}, "office"),
    ],
)
async def test_bad_parameters_are_named(desk: Desk, params: dict[str, str], named: str) -> None:
    response = await desk.http.get(EXPORT, params=params, headers=desk.headers(AUDITOR))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["errors"][0]["loc"] == ["query", named]
    assert problem["detail"].startswith(f"query.{named}: ")


async def test_no_cell_of_the_csv_export_is_a_formula_for_a_spreadsheet(desk: Desk) -> None:
    """What people type is in JSON cells (starting with `{`), so a name like `=HYPERLINK(…)` never starts a cell."""
    formula = '=HYPERLINK("http://attacker.example","open")'
    case = await desk.file(APPLICANT, company=formula)
    await desk.ok(case, "add_note", COORDINATOR, text="@SUM(1+1)")
    content = (await export(desk, case=case["id"], format="csv")).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(content.rsplit("#manifest,", 1)[0], newline="")))
    assert "=HYPERLINK(" in content and len(rows) == 3
    assert [cell for row in rows for cell in row if cell[:1] in ("=", "+", "-", "@", "\t", "\r")] == []
