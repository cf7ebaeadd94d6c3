"""Deliver a case's outbox over SMTP. A mail server that is down delays mail; it never loses or doubles it:
each row is sent under a row lock and marked sent in the same transaction, and its Message-ID is the
row's id, so a receiver can recognise a resend after a crash between sending and marking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

import aiosmtplib
import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from activities.failures import classified
from contracts.activities import DELIVER_MAIL
from infra.tables import notifications

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0


def message_id(notification_id: str) -> str:
    return f"<{notification_id}@case-desk>"


class MailCourier:
    def __init__(self, engine: AsyncEngine, smtp: SmtpSettings) -> None:
        self.engine = engine
        self.smtp = smtp

    def _message(self, row: dict[str, object]) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.smtp.sender
        message["To"] = formataddr((str(row["recipient_name"]), str(row["recipient_email"])))
        message["Subject"] = str(row["subject"])
        message["Message-ID"] = message_id(str(row["id"]))
        message["Date"] = format_datetime(datetime.now(UTC))
        message["X-Case-Id"] = str(row["case_id"])
        message.set_content(str(row["body"]))
        return message

    async def _send_next(self, case_id: str) -> bool:
        """Send one unsent e-mail of the case; False when there is none left."""
        async with self.engine.begin() as conn:
            row = (await conn.execute(
                select(notifications)
                .where(notifications.c.case_id == case_id, notifications.c.sent_at.is_(None))
                .order_by(notifications.c.seq, notifications.c.recipient_email)
                .limit(1)
                .with_for_update(skip_locked=True)
            )).mappings().first()
            if row is None:
                return False
            try:
                await aiosmtplib.send(
                    self._message(dict(row)), hostname=self.smtp.host, port=self.smtp.port,
                    username=self.smtp.username, password=self.smtp.password, start_tls=self.smtp.starttls,
                    timeout=self.smtp.timeout,
                )
            except (aiosmtplib.SMTPException, OSError) as error:
                log.warning("mail not sent; will retry", notification=row["id"], error=str(error))
                raise
            await conn.execute(
                update(notifications).where(notifications.c.id == row["id"])
                .values(sent_at=datetime.now(UTC), attempts=notifications.c.attempts + 1)
            )
        log.info("mail sent", notification=row["id"], to=row["recipient_email"], template=row["template"])
        return True

    @activity.defn(name=DELIVER_MAIL)
    @classified(DELIVER_MAIL)
    async def deliver_mail(self, case_id: str) -> int:
        """Send every unsent e-mail of the case; raises (and is retried with backoff) while SMTP is down."""
        sent = 0
        while await self._send_next(case_id):
            sent += 1
        return sent
