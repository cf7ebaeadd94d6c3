"""Evidence packs: an auditor takes a case away as a ZIP and checks it alone; any altered byte is found."""

from __future__ import annotations

import asyncio
import html
import io
import json
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.signing import CHECKPOINT_CONTEXT, EVENT_CONTEXT
from infra import evidence_check
from infra.access_log import ACCESS_COLUMNS
from infra.checkpoints import take_checkpoint
from infra.evidence_check import check_pack
from infra.settings import Settings
from tests.helpers.desk import Desk
from tests.helpers.people import AUDITOR, COORDINATOR, SBIC, officer
from tests.helpers.scenarios import to_matching

FILES = ["events.jsonl", "checkpoints.json", "keys.json", "access.jsonl", "timeline.html", "README.txt",
         "check_pack.py", "manifest.json"]


@pytest.fixture
async def pack(desk: Desk, engine: AsyncEngine, settings: Settings, tmp_path: Path) -> Path:
    """A case with two checkpoints (one before, one after a note) and its pack, as an auditor downloads it."""
    case = await to_matching(desk)
    await take_checkpoint(engine, settings.audit_keys, None, datetime.now(UTC))
    await desk.ok(case, "add_note", COORDINATOR, text="Säkerhet först — 安全第一 <b>")
    await take_checkpoint(engine, settings.audit_keys, None, datetime.now(UTC))
    assert (await desk.get(case, officer(SBIC))).status_code == 200  # the officer is shown the contact person
    answer = await desk.http.get(f"/api/cases/{case['id']}/evidence", headers=desk.headers(AUDITOR))
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    assert f"case-{case['id']}-evidence.zip" in answer.headers["content-disposition"]
    path = tmp_path / "pack.zip"
    path.write_bytes(answer.content)
    return path


def altered(path: Path, name: str, tmp_path: Path) -> Path:
    """The pack with one byte of `name` changed (the ZIP itself stays readable)."""
    with zipfile.ZipFile(path) as original:
        files = {info.filename: original.read(info) for info in original.infolist()}
    data = bytearray(files[name])
    at = data.index(b'"hash":"') + 8 if name == "events.jsonl" else len(data) // 2
    data[at] = ord("0") if data[at] != ord("0") else ord("1")
    files[name] = bytes(data)
    out = tmp_path / f"altered-{name}.zip"
    with zipfile.ZipFile(out, "w") as pack:
        for each, content in files.items():
            pack.writestr(each, content)
    return out


def test_the_checker_signs_with_the_desks_own_contexts() -> None:
    assert (evidence_check.EVENT_CONTEXT, evidence_check.CHECKPOINT_CONTEXT) == (EVENT_CONTEXT, CHECKPOINT_CONTEXT)
    assert evidence_check.ACCESS_FIELDS == ACCESS_COLUMNS


async def test_the_pack_says_who_was_shown_the_cases_personal_data(pack: Path, desk: Desk) -> None:
    """Issue 19 Build 3: the access log goes with the case; the manifest covers it, and the pack says what that
    proves (exported with the pack, not complete)."""
    me = (await desk.http.get("/api/me", headers=desk.headers(officer(SBIC)))).json()
    with zipfile.ZipFile(pack) as opened:
        manifest = json.loads(opened.read("manifest.json"))
        rows = [json.loads(line) for line in opened.read("access.jsonl").decode().splitlines()]
        readme, timeline = opened.read("README.txt").decode(), opened.read("timeline.html").decode()
    assert manifest["format"] == "case-desk-evidence/2" and manifest["access_entries"] == len(rows)
    assert {row["case_id"] for row in rows} == {manifest["case_id"]}
    seen = [row for row in rows if row["person_id"] == me["id"] and row["route"] == "GET /api/cases/{case_id}"]
    assert seen and "request.contact" in seen[-1]["fields"] and seen[-1]["at"].endswith("+00:00")
    assert [row["id"] for row in rows] == sorted(row["id"] for row in rows), "oldest first"
    assert "exported with this pack" in readme and "does not prove that the log is complete" in readme
    assert html.escape(me["name"]) in timeline.split("Who was shown")[1]
    problems, summary = check_pack(str(pack))
    assert problems == [] and f"{len(rows)} access-log row(s)" in summary


async def test_an_access_row_removed_with_a_recomputed_manifest_fails_on_the_signature(
    pack: Path, tmp_path: Path
) -> None:
    with zipfile.ZipFile(pack) as original:
        files = {info.filename: original.read(info) for info in original.infolist()}
    files["access.jsonl"] = b"".join(files["access.jsonl"].splitlines(keepends=True)[1:])
    manifest = json.loads(files["manifest.json"])
    manifest["files"]["access.jsonl"] = {"sha256": evidence_check.sha256(files["access.jsonl"]),
                                         "bytes": len(files["access.jsonl"])}
    manifest["access_entries"] -= 1
    files["manifest.json"] = evidence_check.canonical(manifest).encode()
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(forged, "w") as out:
        for each, content in files.items():
            out.writestr(each, content)
    problems, _ = check_pack(str(forged))
    assert problems == [f"manifest.json: its signature does not hold under key {manifest['key_id']}"]


async def test_a_pack_checks_alone_with_the_cli_and_the_standalone_script(pack: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(pack) as opened:
        assert sorted(opened.namelist()) == sorted(FILES)
        events = opened.read("events.jsonl").decode().splitlines()
        checkpoints = json.loads(opened.read("checkpoints.json"))["checkpoints"]
        timeline = opened.read("timeline.html").decode()
        script = tmp_path / "check_pack.py"
        script.write_bytes(opened.read("check_pack.py"))
    assert len(events) == 4 and [c["head"]["seq"] for c in checkpoints] == [3, 4]
    assert "Säkerhet först — 安全第一 &lt;b&gt;" in timeline and "<b>" not in timeline.split("<body>")[1]
    problems, summary = check_pack(str(pack))
    assert problems == [] and summary.startswith("OK case") and "4 event(s)" in summary

    standalone = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-I", str(script), str(pack)], capture_output=True, text=True,
        cwd=tmp_path, timeout=60, check=False,
    )
    assert standalone.returncode == 0 and standalone.stdout.startswith("OK case"), standalone.stderr
    cli = await asyncio.to_thread(
        subprocess.run, [str(Path(sys.executable).parent / "alliance"), "audit", "check-pack", str(pack)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert cli.returncode == 0 and cli.stdout.startswith("OK case"), cli.stderr


@pytest.mark.parametrize("name", FILES)
async def test_a_byte_changed_in_any_file_fails_naming_it(pack: Path, tmp_path: Path, name: str) -> None:
    problems, _ = check_pack(str(altered(pack, name, tmp_path)))
    assert problems and problems[0].startswith(f"{name}:"), problems


async def test_a_note_with_a_line_or_paragraph_separator_packs_and_checks(desk: Desk, tmp_path: Path) -> None:
    """A note may hold U+2028 or U+2029 (several lines of text take them), kept unescaped in events.jsonl."""
    case = await to_matching(desk)
    await desk.ok(case, "add_note", COORDINATOR, text="first\u2028second\u2029third")
    answer = await desk.http.get(f"/api/cases/{case['id']}/evidence", headers=desk.headers(AUDITOR))
    path = tmp_path / "pack.zip"
    path.write_bytes(answer.content)
    problems, summary = check_pack(str(path))
    assert problems == [] and "4 event(s)" in summary, problems


@pytest.mark.parametrize("name", FILES)
async def test_a_file_put_twice_in_the_zip_fails_naming_it(pack: Path, tmp_path: Path, name: str) -> None:
    """A ZIP may hold two entries of one name: the checker would read the last (the original, which holds) while
    an unzip tool or a file browser may show the first (a forgery: another access log, another timeline)."""
    with zipfile.ZipFile(pack) as original:
        files = [(info.filename, original.read(info)) for info in original.infolist()]
    forged = tmp_path / "twice.zip"
    with zipfile.ZipFile(forged, "w") as out, pytest.warns(UserWarning, match="Duplicate name"):
        for each, content in files:
            if each == name:
                out.writestr(each, b"forged\n")
            out.writestr(each, content)
    problems, _ = check_pack(str(forged))
    assert problems == [f"{name}: more than once in the ZIP: it was altered"], problems


async def test_events_altered_with_a_recomputed_manifest_fail_on_the_signature(pack: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(pack) as original:
        files = {info.filename: original.read(info) for info in original.infolist()}
    files["events.jsonl"] = files["events.jsonl"].replace(b"\"type\":\"add_note\"", b"\"type\":\"withdraw\"")
    manifest = json.loads(files["manifest.json"])
    manifest["files"]["events.jsonl"] = {"sha256": evidence_check.sha256(files["events.jsonl"]),
                                         "bytes": len(files["events.jsonl"])}
    files["manifest.json"] = evidence_check.canonical(manifest).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as forged:
        for each, content in files.items():
            forged.writestr(each, content)
    (tmp_path / "forged.zip").write_bytes(buffer.getvalue())
    problems, _ = check_pack(str(tmp_path / "forged.zip"))
    assert problems == [f"manifest.json: its signature does not hold under key {manifest['key_id']}"]


async def test_a_pack_signed_by_a_key_the_auditor_does_not_trust_fails(pack: Path) -> None:
    stranger = Settings(_env_file=None, token_pepper="someone-else").audit_keys.keyring.published()[0]
    problems, _ = check_pack(str(pack), [stranger["public_key"]])
    assert problems and "not a trusted key" in problems[0]
