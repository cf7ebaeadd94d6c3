"""Sending each signed checkpoint's log line to an HTTP(S) target (`AUDIT_CHECKPOINT_URL`), e.g. write-once
object storage, beside the checkpoint log file.

The checkpoint is already stored (and written to the file) when it is sent: sending never blocks or undoes
it. A send is tried a few times (a connection failure, a timeout, 408, 429 or a 5xx is tried again after a
pause; any other answer is final). Each delivery is recorded per target (`audit_checkpoint_deliveries`); a
checkpoint not delivered is an open incident (`alliance incidents list`), one per checkpoint, named
`send_checkpoint <id>`. `alliance audit send-checkpoints` and the nightly verification send every checkpoint
the configured target has not received — those that failed, and those taken before the URL was set — and
resolve the incidents of the ones delivered.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.checkpoints import Checkpoint
from infra.audit_tables import audit_checkpoint_deliveries, audit_checkpoints
from infra.incidents import note_failure, note_recovery

log = structlog.get_logger(__name__)

ATTEMPTS = 3
PAUSE_S = 1.0
"""The pause before the second try; it doubles before each next one."""
TIMEOUT_S = 10.0
SENDER = "audit-checkpoint-log"
"""The incidents of checkpoints not delivered carry this in place of a workflow id."""
STEP = "send_checkpoint"
RETRIED_STATUSES = frozenset({408, 425, 429})


def shown(url: str) -> str:
    """`url` as logs, incidents and messages may show it: no user, password or query (a presigned URL's signature
    or a token would otherwise reach every operator who reads them)."""
    try:
        parts = httpx.URL(url)
    except httpx.InvalidURL:  # refused at start (`infra.checkpoint_url.checkpoint_url_problem`); nothing of it shown
        return "(not a valid URL)"
    return str(parts.copy_with(userinfo=b"", query=None)) + ("?…" if parts.query else "")


def target(url: str, checkpoint: Checkpoint) -> tuple[str, str]:
    """(method, URL) for `checkpoint`: PUT to its own address when `url` holds `{id}`, else POST to `url`."""
    return ("PUT", url.replace("{id}", str(checkpoint.id))) if "{id}" in url else ("POST", url)


async def send_line(url: str, checkpoint: Checkpoint, line: str, *, attempts: int = ATTEMPTS,
                    pause: float = PAUSE_S) -> str | None:
    """Send `line` (the checkpoint's log line, `application/json`); None once a 2xx answers, else why not (an
    address httpx refuses, e.g. `http://host:port/`, is a failed delivery too: nothing raised)."""
    method, address = target(url, checkpoint)
    problem = "not tried"
    async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
        for attempt in range(1, attempts + 1):
            try:
                # A whole try is bounded, not each read: a server trickling a byte at a time never times out a read.
                async with asyncio.timeout(TIMEOUT_S):
                    answer = await client.request(method, address, content=line.encode(),
                                                  headers={"Content-Type": "application/json"})
            except TimeoutError:
                problem = f"no answer within {TIMEOUT_S:.0f} s"
            except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as error:
                # Any failure to send is a delivery not made (an incident), never a crash of the step that took the
                # checkpoint. Its text repeats the URL, secrets and all: only its kind is kept.
                problem = type(error).__name__
            else:
                if answer.is_success:
                    return None
                problem = f"{method} answered {answer.status_code} {answer.reason_phrase}"
                if answer.status_code < 500 and answer.status_code not in RETRIED_STATUSES:
                    break
            if attempt < attempts:
                await asyncio.sleep(pause * 2 ** (attempt - 1))
    return f"{checkpoint.name} was not delivered to {shown(address)}: {problem}"


async def deliver(engine: AsyncEngine, url: str, checkpoint: Checkpoint, line: str) -> str | None:
    """`send_line`, and its outcome kept: the delivery to `url`'s target, or an incident while not delivered."""
    problem = await send_line(url, checkpoint, line)
    step = f"{STEP} {checkpoint.id}"
    if problem is None:
        async with engine.begin() as conn:
            await conn.execute(insert(audit_checkpoint_deliveries).values(
                checkpoint_id=checkpoint.id, target=shown(url), delivered_at=datetime.now(UTC),
            ).on_conflict_do_nothing())
        await note_recovery(engine, SENDER, step)
        return None
    log.error("audit checkpoint not delivered", checkpoint=checkpoint.id, url=shown(url), error=problem)
    await note_failure(engine, SENDER, step, "permanent", ATTEMPTS,
                       f"{problem}; it is stored and in the checkpoint log file; "
                       f"`alliance audit send-checkpoints` sends it again")
    return problem


async def undelivered(engine: AsyncEngine, url: str) -> list[int]:
    """The ids of the checkpoints `url`'s target has not received, oldest first: those that failed, and those
    taken before it was the configured target (before `AUDIT_CHECKPOINT_URL` was set, or while it was another)."""
    async with engine.connect() as conn:
        received = select(audit_checkpoint_deliveries.c.checkpoint_id).where(
            audit_checkpoint_deliveries.c.target == shown(url))
        return list(await conn.scalars(select(audit_checkpoints.c.id).where(audit_checkpoints.c.id.not_in(received))
                                       .order_by(audit_checkpoints.c.id)))
