"""One outbox message over SMTP, and what its failure means: try again later, or never.

A message's envelope and headers carry internationalised domains as their IDNA 2008 A-label (`xn--…`); a
non-ASCII local part goes only to a server that announces SMTPUTF8. A failure is *transient* when the same
message may well go through later (no connection, a timeout, a 4xx answer, a refused sender or login: the
server's or our configuration, not this message) and *permanent* when it never will (a 5xx answer for the
recipient or the message, an address or header that cannot be encoded). RFC 5321 §4.2.1 gives the classes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime, parseaddr

import aiosmtplib
import idna


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0


@dataclass(frozen=True)
class Outgoing:
    """What the relay sends: one outbox row (`id` becomes the Message-ID, so a resend is recognisable)."""

    id: str
    case_id: str
    recipient_name: str
    recipient_email: str
    subject: str
    body: str


class MailFailure(Exception):
    """A message was not sent; `permanent` says whether trying again can help; `answer` is the server's reply
    (or why it could not be written), kept on the outbox row for the operator."""

    def __init__(self, answer: str, *, permanent: bool) -> None:
        super().__init__(answer)
        self.answer = legible(answer)[:1000]
        self.permanent = permanent


def legible(answer: str) -> str:
    """`answer` as PostgreSQL can keep it: a server's reply that is not UTF-8 (e.g. ISO-8859-1) reaches us with its
    bytes as surrogates (aiosmtplib decodes with `surrogateescape`), shown here as U+FFFD, and NUL is dropped.
    Kept as it came, the UPDATE counting the failed try was refused, the try never counted, and the message
    tried again every idle period, with the messages sent before it in the same batch (its transaction undone)."""
    try:
        raw = answer.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that stands for no byte
        raw = answer.encode("utf-8", "replace")
    return raw.decode("utf-8", "replace").replace("\x00", "")


def message_id(notification_id: str) -> str:
    return f"<{notification_id}@case-desk>"


def a_label_address(address: str) -> str:
    """`local@domain` with an internationalised domain as its IDNA 2008 A-label (UTS 46 mapping); raises
    MailFailure (permanent) when it is not a valid internationalised name. ASCII domains pass unchanged."""
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise MailFailure(f"{address!r} is not an e-mail address", permanent=True)
    if domain.isascii():  # already what SMTP carries (A-labels, or names IDNA would refuse but servers take)
        return address
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError as error:
        raise MailFailure(f"the domain of {address!r} cannot be encoded (IDNA 2008): {error}", permanent=True) from None
    return f"{local}@{ascii_domain}"


class _HeaderClasses(HeaderRegistry):
    """The standard header registry, which makes each header's class once: the standard library's makes a new
    class with `type()` on every lookup, about half of writing a message (issue 15, profiled in the mail relay).
    The classes hold no state, so one per header name serves every message. Names are the few `compose` sets."""

    KEPT = 64

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = super().__getitem__(name)
            if len(self._made) < self.KEPT:
                self._made[key] = made
        return made


MESSAGE_POLICY = default_policy.clone(header_factory=_HeaderClasses())
"""`email.policy.default` (what `EmailMessage()` uses), with header classes made once."""


@functools.lru_cache(maxsize=256)  # parsed headers are heavy: up to some 45 kB each for a long Japanese subject
def _stored(name: str, value: str) -> BaseHeader:
    """The header `MESSAGE_POLICY` stores for `value` (what `message[name] = value` parses; ValueError as it raises),
    parsed once for the values that come back: the sender, a case's id and subject. Parsing is
    most of writing a message (issue 15, profiled: about 60%, the addresses half of it); a header object is
    immutable, and `EmailMessage` takes one as it is, so the bytes written are the same."""
    header: BaseHeader = MESSAGE_POLICY.header_store_parse(name, value)[1]
    return header


@functools.lru_cache(maxsize=256)
def _addressed(name: str, local: str, domain: str) -> BaseHeader:
    """`_stored` for the To header of one mailbox: staff are told again and again."""
    header: BaseHeader = MESSAGE_POLICY.header_store_parse(
        "To", Address(display_name=name, username=local, domain=domain))[1]
    return header


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
"""A control character other than the tab, which no header value may hold (RFC 5322 §2.2, §3.2.5), C1 ones
included, and the line and paragraph separators: Python counts NEL, U+2028 and U+2029 as line breaks, so the
standard library refused one inside a subject but wrote one at its end (or anywhere in a name) as it was."""


def compose(outgoing: Outgoing, sender: str) -> EmailMessage:
    """The message as sent; raises MailFailure (permanent) when a header cannot be written (e.g. a line break
    in a name: no header is ever injected)."""
    to = a_label_address(outgoing.recipient_email)
    for field, value in (("recipient name", outgoing.recipient_name), ("subject", outgoing.subject),
                         ("case id", outgoing.case_id)):
        if (control := _CONTROL.search(value)) is not None:
            # the standard library refuses a line break inside a value but writes a trailing one as it is: a
            # blank line that ends the header (what follows goes into the body), or a bare CR (RFC 5322 §2.2)
            what = "CR or LF" if control.group() in "\r\n" else f"the control character U+{ord(control.group()):04X}"
            raise MailFailure(f"the message cannot be written: its {field} holds {what}", permanent=True)
    try:
        message = EmailMessage(policy=MESSAGE_POLICY)
        message["From"] = _stored("From", sender)
        local, _, domain = to.rpartition("@")
        message["To"] = _addressed(outgoing.recipient_name, local, domain)
        message["Subject"] = _stored("Subject", outgoing.subject)
        message["Message-ID"] = message_id(outgoing.id)
        message["Date"] = format_datetime(datetime.now(UTC))  # a new value each second: not kept
        message["X-Case-Id"] = _stored("X-Case-Id", outgoing.case_id)
        message.set_content(outgoing.body)
    except (ValueError, TypeError) as error:
        raise MailFailure(f"the message cannot be written: {error}", permanent=True) from None
    return message


def envelope_sender(sender: str) -> str:
    return a_label_address(parseaddr(sender)[1] or sender)


def _answer(error: aiosmtplib.SMTPResponseException) -> str:
    return f"{error.code} {error.message}".strip()


def classify(error: Exception) -> MailFailure:
    """What a failure of `aiosmtplib.send` (or of writing the message) means for the message."""
    if isinstance(error, MailFailure):
        return error
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        answers = [_answer(r) for r in error.recipients]
        return MailFailure("; ".join(answers), permanent=all(r.code >= 500 for r in error.recipients))
    if isinstance(error, (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError)):
        return MailFailure(_answer(error), permanent=error.code >= 500)
    if isinstance(error, aiosmtplib.SMTPNotSupported):  # e.g. SMTPUTF8 needed, not announced
        return MailFailure(f"the server cannot take this message: {error}", permanent=True)
    if isinstance(error, aiosmtplib.SMTPResponseException):  # sender, login, greeting: not this message's fault
        return MailFailure(_answer(error), permanent=False)
    if isinstance(error, (UnicodeError, ValueError)):
        return MailFailure(f"the message cannot be encoded: {error}", permanent=True)
    return MailFailure(f"{type(error).__name__}: {error}" if str(error) else type(error).__name__, permanent=False)


QUIT_SECONDS = 2.0
"""How long the relay, stopping, waits for servers to answer QUIT before it drops their connections."""
IDLE_SESSION_SECONDS = 30.0
"""A session idle longer than this is closed rather than reused (a server may close one idle for 5 minutes,
RFC 5321 §4.5.3.2.7, and some close them sooner)."""


class SmtpSessions:
    """SMTP sessions kept open between messages, one for each sender sending at the same time (issue 15): a new
    session costs a connection, the greeting, EHLO (and STARTTLS and login when configured) and QUIT, several
    times what one more message over an open session costs. A session that failed in any way, or stayed idle
    longer than `IDLE_SESSION_SECONDS`, is closed, never reused.

    A kept session the server has meanwhile closed (it answers 421, or is found disconnected) costs the message
    nothing: it is sent once more, at once, on a new session. The server had not taken it — a message is taken
    only by the answer to its end of data — so this resends no more than the outbox's own retry of a transient
    failure would; any other failure is classified and left to the outbox's backoff."""

    def __init__(self, smtp: SmtpSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.smtp = smtp
        self.clock = clock
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []  # open sessions, and since when each is idle

    async def send(self, outgoing: Outgoing) -> None:
        """Hand one message to the SMTP server; raises MailFailure (classified) when it is not taken."""
        try:
            message = compose(outgoing, self.smtp.sender)
            recipients = [a_label_address(outgoing.recipient_email)]
            session, kept = await self._take()
            try:
                await self._send_on(session, message, recipients)
            except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPSenderRefused) as error:
                if not kept or (isinstance(error, aiosmtplib.SMTPSenderRefused) and error.code != 421):
                    raise
                await self._send_on(await self._open(), message, recipients)  # the kept one had been closed
        except Exception as error:  # anything unforeseen is transient: retried with backoff, never in a tight loop
            raise classify(error) from error

    async def _send_on(self, session: aiosmtplib.SMTP, message: EmailMessage, recipients: list[str]) -> None:
        """Send over `session`; it is kept for the next message, or closed if anything went wrong."""
        try:
            await session.send_message(message, sender=envelope_sender(self.smtp.sender), recipients=recipients)
        except BaseException:
            await _close(session)
            raise
        self._idle.append((session, self.clock()))

    async def close(self) -> None:
        """QUIT every open session (the relay stopping), all at once and within `QUIT_SECONDS`."""
        sessions = [session for session, _ in self._idle]
        self._idle.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(QUIT_SECONDS):
                await asyncio.gather(*(_close(session, quit_first=True) for session in sessions))
        for session in sessions:
            session.close()

    async def _take(self) -> tuple[aiosmtplib.SMTP, bool]:
        """A kept session fresh enough (and True), else a new one (and False)."""
        while self._idle:
            session, since = self._idle.pop()
            if session.is_connected and self.clock() - since < IDLE_SESSION_SECONDS:
                return session, True
            await _close(session)
        return await self._open(), False

    async def _open(self) -> aiosmtplib.SMTP:
        smtp = self.smtp
        session = aiosmtplib.SMTP(hostname=smtp.host, port=smtp.port, username=smtp.username, password=smtp.password,
                                  start_tls=smtp.starttls, timeout=smtp.timeout)
        await session.connect()
        return session


async def _close(session: aiosmtplib.SMTP, *, quit_first: bool = False) -> None:
    """End a session, politely when asked; a session that cannot even say goodbye is simply dropped."""
    with contextlib.suppress(Exception):
        if quit_first:
            await session.quit()
    session.close()
