"""Checkpoints sent to an HTTP(S) target (AUDIT_CHECKPOINT_URL), here a real HTTP server started by the test:
each line arrives as the file has it, a server that stumbles is tried again, and one that is down never stops
the checkpoint but leaves an incident, until `alliance audit send-checkpoints` delivers it; that command also
delivers the checkpoints taken before the URL was set."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.audit_tables import audit_checkpoints
from infra.checkpoint_sink import SENDER, undelivered
from infra.checkpoints import take_checkpoint
from infra.incidents import open_incidents
from infra.settings import Settings
from infra.tables import incidents
from tests.helpers.archive import Archive, serving_archive
from tests.helpers.audit_cli import alliance
from tests.helpers.desk import Desk
from tests.helpers.people import APPLICANT


@pytest.fixture
def archive() -> Iterator[Archive]:
    with serving_archive() as served:
        yield served


async def test_each_checkpoint_is_put_at_its_own_address_as_the_log_line(
    desk: Desk, engine: AsyncEngine, settings: Settings, archive: Archive, tmp_path: Path
) -> None:
    await desk.file(APPLICANT)
    log = tmp_path / "checkpoints.log"
    archive.failures = [503, 502]  # the storage stumbles twice, then takes it
    taken = await take_checkpoint(engine, settings.audit_keys, log, datetime.now(UTC),
                                  url=archive.url("/checkpoints/{id}.json"))
    assert [(m, p) for m, p, _ in archive.received] == [("PUT", f"/checkpoints/{taken.id}.json")] * 3
    assert archive.received[-1][2] == log.read_bytes().splitlines(keepends=True)[-1]
    assert json.loads(archive.received[-1][2])["digest"] == taken.digest
    assert taken.id not in await undelivered(engine, archive.url("/checkpoints/{id}.json"))

    await take_checkpoint(engine, settings.audit_keys, None, datetime.now(UTC), url=archive.url("/append"))
    assert archive.received[-1][:2] == ("POST", "/append"), "without {id} in the URL each line is POSTed"


async def test_a_target_that_refuses_never_stops_the_checkpoint_and_is_an_incident_until_sent_again(
    desk: Desk, engine: AsyncEngine, settings: Settings, archive: Archive, tmp_path: Path
) -> None:
    await desk.file(APPLICANT)
    log, url = tmp_path / "checkpoints.log", archive.url("/checkpoints/{id}")
    archive.failures = [500, 500, 500]
    taken = await alliance(engine, settings, log, "audit", "checkpoint", env={"AUDIT_CHECKPOINT_URL": url})
    assert taken.returncode == 1
    checkpoint = json.loads(log.read_text().splitlines()[-1])  # stored and logged all the same
    async with engine.connect() as conn:
        assert await conn.scalar(select(audit_checkpoints.c.digest).where(
            audit_checkpoints.c.id == checkpoint["id"])) == checkpoint["digest"]
        incident = (await conn.execute(select(incidents).where(
            incidents.c.workflow_id == SENDER, incidents.c.resolved_at.is_(None)))).mappings().one()
    assert f"checkpoint {checkpoint['id']} of" in taken.stderr and "was not delivered" in taken.stderr
    assert incident["step"] == f"send_checkpoint {checkpoint['id']}" and "500" in incident["error"]
    listed = await open_incidents(engine)  # what `alliance incidents list` shows
    assert any(i.workflow_id == SENDER and i.step == f"send_checkpoint {checkpoint['id']}" for i in listed)

    sent = await alliance(engine, settings, log, "audit", "send-checkpoints", env={"AUDIT_CHECKPOINT_URL": url})
    assert sent.returncode == 0, sent.stderr
    assert archive.received[-1] == ("PUT", f"/checkpoints/{checkpoint['id']}",
                                    log.read_bytes().splitlines(keepends=True)[-1])
    assert await undelivered(engine, url) == []


async def test_checkpoints_taken_before_the_url_was_set_are_sent_once_it_is(
    desk: Desk, engine: AsyncEngine, settings: Settings, archive: Archive, tmp_path: Path
) -> None:
    await desk.file(APPLICANT)
    log = tmp_path / "checkpoints.log"
    before = await alliance(engine, settings, log, "audit", "checkpoint", env={"AUDIT_CHECKPOINT_URL": ""})
    assert before.returncode == 0, before.stderr
    early = json.loads(log.read_text().splitlines()[-1])
    assert archive.received == []  # no URL yet: nowhere to send it

    url = archive.url("/checkpoints/{id}")
    assert early["id"] in await undelivered(engine, url)
    sent = await alliance(engine, settings, log, "audit", "send-checkpoints", env={"AUDIT_CHECKPOINT_URL": url})
    assert sent.returncode == 0, sent.stderr
    assert f"checkpoint {early['id']} of" in sent.stderr and "delivered" in sent.stderr  # the console: stderr
    assert ("PUT", f"/checkpoints/{early['id']}", log.read_bytes().splitlines(keepends=True)[-1]) in archive.received
    assert await undelivered(engine, url) == []
    ids = [int(path.rsplit("/", 1)[-1]) for _, path, _ in archive.received]
    assert ids == sorted(ids), "oldest first"

    again = await alliance(engine, settings, log, "audit", "send-checkpoints", env={"AUDIT_CHECKPOINT_URL": url})
    assert again.returncode == 0 and len(archive.received) == len(ids), "each is sent once"
    other = archive.url("/elsewhere/{id}")  # a new target gets every checkpoint too
    assert early["id"] in await undelivered(engine, other)


async def test_a_url_with_credentials_never_shows_them_where_operators_read(
    desk: Desk, engine: AsyncEngine, settings: Settings, archive: Archive, tmp_path: Path
) -> None:
    """A presigned or basic-auth URL keeps its secrets: not in the command's output, the log or the incident."""
    await desk.file(APPLICANT)
    log = tmp_path / "checkpoints.log"
    url = f"http://archive:s3cr3t-token@127.0.0.1:{archive.port}/cp/{{id}}?X-Amz-Signature=SECRETSIG"
    archive.failures = [500, 500, 500]
    taken = await alliance(engine, settings, log, "audit", "checkpoint", env={"AUDIT_CHECKPOINT_URL": url})
    assert taken.returncode == 1
    assert archive.received and archive.received[0][1].endswith("?X-Amz-Signature=SECRETSIG")  # it was used
    listed = await open_incidents(engine)
    said = taken.stdout + taken.stderr + " ".join(i.error for i in listed)
    assert "was not delivered" in said
    assert "s3cr3t-token" not in said and "SECRETSIG" not in said, said


@pytest.mark.parametrize(("url", "why"), [
    ("ftp://archive.example.org/checkpoints", "its scheme is ftp"),
    # httpx.InvalidURL when sending:
    ("https://archive.example.org:eighty/checkpoints/{id}", "its port is not a number from 1 to 65535"),
    ("http://[::1/checkpoints", "its port is not a number from 1 to 65535"),
    ("https://archive example.org/checkpoints", "its host is not a host name"),
    ("https://archive.example.org:99999/checkpoints", "its port 99999 is not from 1 to 65535"),
    ("https:///checkpoints", "it has no host"),
])
def test_the_url_is_refused_at_start_unless_httpx_can_send_to_it(url: str, why: str) -> None:
    with pytest.raises(ValueError, match="AUDIT_CHECKPOINT_URL must be an http:// or https:// URL") as refused:
        Settings(_env_file=None, audit_checkpoint_url=url)
    assert why in str(refused.value)


def test_a_url_httpx_can_send_to_is_taken() -> None:
    assert Settings(_env_file=None, audit_checkpoint_url="").audit_checkpoint_url is None
    for url in ("https://archive.example.org/checkpoints/{id}", "http://u:p@127.0.0.1:8080/cp?sig=a%2Fb",
                "http://[::1]:9000/cp", "https://bücher.example/cp"):
        assert Settings(_env_file=None, audit_checkpoint_url=url).audit_checkpoint_url == url


async def test_an_address_httpx_refuses_when_sending_is_an_incident_not_a_crash(
    desk: Desk, engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    """Were a bad address to get past the settings (set in code), the checkpoint is still stored and logged, and
    the failed delivery is an incident: nothing raised by the sending step."""
    await desk.file(APPLICANT)
    log = tmp_path / "checkpoints.log"
    taken = await take_checkpoint(engine, settings.audit_keys, log, datetime.now(UTC),
                                  url="http://archive.example.org:eighty/cp/{id}?token=SECRET")
    assert json.loads(log.read_text().splitlines()[-1])["id"] == taken.id
    incident = next(i for i in await open_incidents(engine)
                    if i.workflow_id == SENDER and i.step == f"send_checkpoint {taken.id}")
    assert "was not delivered" in incident.error and "InvalidURL" in incident.error
    assert "SECRET" not in incident.error
