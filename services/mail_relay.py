"""The mail relay: sends the outbox, each message on its own, beside the case workflows (never inside them).

Every worker process runs one relay (`alliance run` and `alliance worker`); each relay runs `senders` loops
that each claim a few due messages (`batch`) with `FOR UPDATE SKIP LOCKED`, send them, and mark them in the same
transaction.
Idle senders wait in line (`Doorbell`): one of them looks every `idle_seconds`, and a sender that found a message
wakes one more, so a burst is taken up by as many senders as it keeps busy, and no sender claims in vain for
another's message.
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
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
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


class Doorbell:
    """Senders with nothing to send, waiting in line to be woken one at a time (issue 15).

    One waiting sender at most, the *watcher*, waits `idle_seconds` and then looks whether mail came; the others
    wait until `ring` wakes them. A sender that found a message rings once (there may be more), one that found none
    rings nobody. Waking every idle sender after each message instead (an `asyncio.Event`) had each of them claim in
    vain: with four senders, three empty transactions for every message sent, measured as about half of the
    relay's work under load. No sender is left waiting for ever, and some sender watches whenever one waits: when
    the watcher stops waiting, one of those still waiting watches in its place."""

    def __init__(self) -> None:
        self._line: deque[asyncio.Future[None]] = deque()
        self._watched = False
        self._vacated: asyncio.Future[None] | None = None  # done when the watcher stops waiting

    def ring(self) -> None:
        """Wake the sender that has waited longest, if any waits."""
        while self._line:
            waiter = self._line.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def ring_all(self) -> None:
        """Wake every waiting sender (the relay stopping)."""
        while self._line:
            self.ring()

    async def wait(self, idle_seconds: float) -> None:
        """Wait to be rung, or, as the watcher, at most `idle_seconds`. A sender waiting while another watches
        takes over the watch when that one stops waiting: the watcher goes to send, perhaps a message whose
        server answers slowly, and mail written meanwhile is found by the senders still idle."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._line.append(waiter)
        watching = False
        try:
            while self._watched:
                if self._vacated is None or self._vacated.done():
                    self._vacated = loop.create_future()
                await asyncio.wait((waiter, self._vacated), return_when=asyncio.FIRST_COMPLETED)
                if waiter.done():
                    return
            watching = self._watched = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(waiter), idle_seconds)
        finally:
            if watching:
                self._watched = False
                if self._vacated is not None and not self._vacated.done():
                    self._vacated.set_result(None)
            if not waiter.done():
                waiter.cancel()
            with contextlib.suppress(ValueError):
                self._line.remove(waiter)


@dataclass
class MailRelay:
    """Sends due outbox messages until stopped; `clock` decides what is due (tests move it on)."""

    engine: AsyncEngine
    smtp: SmtpSettings
    temporal: Client
    signer: Signer  # signs what it appends to a finished case's trail (AUDIT_SIGNING_KEY)
    senders: int = 4
    batch: int = 4  # messages claimed at once by a sender (`send_due`)
    permanent_tries: int = 3
    longest_backoff: timedelta = timedelta(minutes=10)
    idle_seconds: float = 0.5
    report_every: timedelta = timedelta(minutes=1)
    clock: Callable[[], datetime] = utc_now
    keyring: Keyring | None = None  # the keys a closed case's last event must be signed with (default: signer's)
    _told: dict[str, datetime] = field(default_factory=dict)
    _doorbell: Doorbell = field(default_factory=Doorbell)
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
            self._doorbell.ring_all()
            await asyncio.wait(loops, timeout=self.smtp.timeout + 5)
        finally:
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            await self.sessions.close()

    async def _sender(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                claimed = await self.send_due(stop)
            except Exception as error:  # the database is away: try again shortly, never stop relaying
                log.warning("mail relay cannot reach the outbox", error=str(error)[:300])
                claimed = 0
            if claimed >= self.batch:
                self._doorbell.ring()  # there may be more: one more sender looks too
            if claimed:
                continue
            if not stop.is_set():
                await self._doorbell.wait(self.idle_seconds)

    async def send_due(self, stop: asyncio.Event | None = None) -> int:
        """Send the messages due longest ago, at most `batch` of them, in one transaction: claimed together, each
        sent on its own and given its own fate, all marked at the end. How many were claimed (0: none is due).

        One transaction for several messages saves its BEGIN, claim and COMMIT round trips for all but the first:
        the case desk mails several people for one event (issue 15). A message still waits for its own next try
        when it fails; one that takes the whole SMTP timeout holds back the rest of its batch that long. Once
        `stop` is set, the batch's unsent messages are left to the next claim. Each message's fate is dated when it
        was met (`clock` after its try), not when the batch was claimed."""
        undeliverable: list[tuple[outbox.Claimed, MailFailure, datetime]] = []
        async with self.engine.begin() as conn:
            now = self.clock()
            claimed = await outbox.claim_due(conn, now, self.batch)
            sent: list[tuple[outbox.Claimed, datetime]] = []
            interrupted: BaseException | None = None
            try:
                await self._send_each(conn, claimed, stop, sent, undeliverable)
            except BaseException as error:  # e.g. cancelled, the relay stopping (`run`): what was sent stays sent
                interrupted = error
            await outbox.mark_sent(conn, sent)
        if interrupted is not None:
            raise interrupted
        for message, refusal, failed_at in undeliverable:
            try:
                await self.report(outbox.Unreported(message.outgoing.id, message.outgoing.case_id, message.template,
                                                    refusal.answer, failed_at))
            except Exception as error:  # Temporal or the database away: the reporter tells it later
                log.warning("undeliverable mail not told yet", notification=message.outgoing.id,
                            error=str(error)[:300])
        return len(claimed)

    async def _send_each(self, conn: AsyncConnection, claimed: list[outbox.Claimed], stop: asyncio.Event | None,
                         sent: list[tuple[outbox.Claimed, datetime]],
                         undeliverable: list[tuple[outbox.Claimed, MailFailure, datetime]]) -> None:
        """Send the claimed messages one by one, each given its fate (`sent` and `undeliverable` filled as they
        go: a batch interrupted midway still marks what the server took, never sent again)."""
        for message in claimed:
            if stop is not None and stop.is_set():
                break
            bound = log.bind(notification=message.outgoing.id, case_id=message.outgoing.case_id,
                             template=message.template, attempt=message.attempts + 1)
            if outbox.is_erased(message):
                await outbox.mark_cancelled(conn, message, self.clock(), "the address was erased (retention)")
                bound.info("mail cancelled: address erased")
                continue
            try:
                await self.sessions.send(message.outgoing)
            except MailFailure as failure:
                failed_at = self.clock()
                fate = await outbox.mark_failed(conn, message, failure, failed_at,
                                                permanent_tries=self.permanent_tries, longest=self.longest_backoff)
                bound.warning("mail not sent", permanent=failure.permanent, answer=failure.answer,
                              status=fate.status, next_attempt_at=fate.next_attempt_at)
                if fate.status == outbox.Status.UNDELIVERABLE:
                    undeliverable.append((message, failure, failed_at))
            else:
                sent.append((message, self.clock()))
                bound.info("mail sent")

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
