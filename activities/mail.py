"""`deliver_mail`, as cases from before the mail relay still call it: the relay (`services.mail_relay`) sends
the whole outbox, each message on its own, so this step has nothing left to do and answers at once."""

from __future__ import annotations

from temporalio import activity

from contracts.activities import DELIVER_MAIL


@activity.defn(name=DELIVER_MAIL)
async def deliver_mail(case_id: str) -> int:
    """0: no e-mail is sent here any more (a case's workflow no longer waits for its mail)."""
    return 0
