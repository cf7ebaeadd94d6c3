"""The mail relay: sends the outbox, each message on its own, beside the case workflows (never inside them).

Every worker process runs one relay (`alliance run` and `alliance worker`); each relay runs `senders` loops
that each claim one due message with `FOR UPDATE SKIP LOCKED`, send it, and mark it in the same transaction.
So a message is sent by one sender at a time, a crash between sending and marking sends it again with the same
Message-ID (its outbox row's id: receivers recognise the resend), and a message that fails waits for its own
next try without delaying any other. Why not a relay workflow: each try would cost history events and a
workflow task on the case desk's busiest queue, for nothing a row lock does not already give.

An undeliverable message is put on its case's trail as a `mail_undeliverable` event: by the case's workflow
(a signal) while it runs, appended directly once it has finished; the event's transaction marks the message
reported, and the relay tells again every `report_every` until it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.service import RPCError

from contracts.case import MAIL_UNDELIVERABLE_SIGNAL, UndeliverableMail, workflow_id
from domain import events
from domain.signing import Keyring, Signer
from infra import outbox
from infra.closed_cases import append_to_closed_case
from infra.smtp import MailFailure, SmtpSessions, SmtpSettings
from services.background import at_work, utc_now

log = structlog.get_logger(__name__)

REPLY_CODE = re.compile(r"^([245]\d\d)\b")


@dataclass
class MailRelay:
    """Sends due outbox messages until stopped; `clock` decides what is due (tests move it on)."""

    engine: AsyncEngine
    smtp: SmtpSettings
    temporal: Client
    signer: Signer  # signs what it appends to a finished case's trail (AUDIT_SIGNING_KEY)
    senders: int = 4
    permanent_tries: int = 3
    longest_backoff: timedelta = timedelta(minutes=10)
    idle_seconds: float = 0.5
    report_every: timedelta = timedelta(minutes=1)
    clock: Callable[[], datetime] = utc_now
    keyring: Keyring | None = None  # the keys a closed case's last event must be signed with (default: signer's)
    _told: dict[str, datetime] = field(default_factory=dict)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _sessions: SmtpSessions | None = None  # kept open between messages (`infra.smtp.SmtpSessions`)

    @property
    def sessions(self) -> SmtpSessions:
        if self._sessions is None:
            self._sessions = SmtpSessions(self.smtp)
        return self._sessions

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[MailRelay]:
        """The relay at work for the `async with` block (stopped, its sends finished, on leaving)."""
        async with at_work(self.run):
            yield self

    async def run(self, stop: asyncio.Event) -> None:
        """Send and report until `stop`; a message being sent when it is set is finished first."""
        loops = [asyncio.create_task(self._sender(stop)) for _ in range(self.senders)]
        loops.append(asyncio.create_task(self._reporter(stop)))
        try:
            await stop.wait()
            self._wake.set()
            await asyncio.wait(loops, timeout=self.smtp.timeout + 5)
        finally:
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            await self.sessions.close()

    async def _sender(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                worked = await self.send_one()
            except Exception as error:  # the database is away: try again shortly, never stop relaying
                log.warning("mail relay cannot reach the outbox", error=str(error)[:300])
                worked = False
            if worked:
                self._wake.set()  # there may be more: let the other senders look too
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.idle_seconds)

    async def send_one(self) -> bool:
        """Send the message due longest ago, if any; False when none is due."""
        undeliverable: tuple[outbox.Claimed, MailFailure] | None = None
        async with self.engine.begin() as conn:
            now = self.clock()
            message = await outbox.claim_due(conn, now)
            if message is None:
                return False
            bound = log.bind(notification=message.outgoing.id, case_id=message.outgoing.case_id,
                             template=message.template, attempt=message.attempts + 1)
            if outbox.is_erased(message):
                await outbox.mark_cancelled(conn, message, now, "the address was erased (retention)")
                bound.info("mail cancelled: address erased")
                return True
            try:
                await self.sessions.send(message.outgoing)
            except MailFailure as failure:
                fate = await outbox.mark_failed(conn, message, failure, now, permanent_tries=self.permanent_tries,
                                                longest=self.longest_backoff)
                bound.warning("mail not sent", permanent=failure.permanent, answer=failure.answer,
                              status=fate.status, next_attempt_at=fate.next_attempt_at)
                if fate.status == outbox.Status.UNDELIVERABLE:
                    undeliverable = (message, failure)
            else:
                await outbox.mark_sent(conn, message, now)
                bound.info("mail sent")
        if undeliverable is not None:
            try:
                await self.report(outbox.Unreported(message.outgoing.id, message.outgoing.case_id, message.template,
                                                    undeliverable[1].answer, now))
            except Exception as error:  # Temporal or the database away: the reporter tells it later
                log.warning("undeliverable mail not told yet", notification=message.outgoing.id,
                            error=str(error)[:300])
        return True

    async def _reporter(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                waiting = await outbox.unreported(self.engine)
                self._told = {m.id: self._told[m.id] for m in waiting if m.id in self._told}
                for message in waiting:
                    told = self._told.get(message.id)
                    if told is None or self.clock() - told >= self.report_every:
                        await self.report(message)
            except Exception as error:
                log.warning("mail relay cannot report undeliverable mail", error=str(error)[:300])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(self.idle_seconds * 10, 1.0))

    async def report(self, message: outbox.Unreported) -> None:
        """Put the undeliverable message on its case's trail (through its workflow while it runs)."""
        self._told[message.id] = self.clock()
        match = REPLY_CODE.match(message.last_error or "")
        mail = UndeliverableMail(message=message.id, template=message.template, code=match.group(1) if match else None,
                                 failed_at=message.failed_at)
        try:
            handle = self.temporal.get_workflow_handle(workflow_id(message.case_id))
            await handle.signal(MAIL_UNDELIVERABLE_SIGNAL, mail)
            return
        except RPCError as error:  # the workflow has finished (or never was): the trail is ours to extend
            reason = str(error)
        outcome = await append_to_closed_case(
            self.engine, self.signer, message.case_id, events.MAIL_UNDELIVERABLE, mail.model_dump(mode="json"),
            self.clock(), reported_message=message.id, keyring=self.keyring,
        )
        if outcome == "unknown":  # e.g. the nightly alert to auditors (the oversight chain): no case to tell
            await outbox.mark_reported(self.engine, message.id, self.clock())
            log.info("undeliverable mail of no case: not put on any trail", notification=message.id,
                     case_id=message.case_id)
        elif outcome == "broken":
            log.error("undeliverable mail not reported: its closed case's trail does not end in an event the Case "
                      "Desk signed (`alliance audit verify`)", notification=message.id, case_id=message.case_id)
        elif outcome == "damaged":
            log.error("undeliverable mail not reported: its closed case's record (the read model's snapshot) is no "
                      "case", notification=message.id, case_id=message.case_id)
        elif outcome == "open":
            log.warning("undeliverable mail not reported: its case is open but its workflow is not running",
                        notification=message.id, case_id=message.case_id, reason=reason[:300])
