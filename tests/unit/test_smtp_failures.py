"""What a failed send means for a message (infra/smtp.py): nothing unforeseen may escape as a bare exception,
or the relay would roll the message back and claim it again at once, for ever."""

from __future__ import annotations

import aiosmtplib
import pytest

from infra.smtp import MailFailure, Outgoing, SmtpSessions, SmtpSettings

MESSAGE = Outgoing(id="m-1", case_id="c-1", recipient_name="Anna", recipient_email="anna@acme.example",
                   subject="s", body="b")


async def test_an_unforeseen_error_is_a_transient_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*args: object, **kwargs: object) -> None:  # aiosmtplib is not ours to run here
        raise RuntimeError("something nobody classified")

    monkeypatch.setattr(aiosmtplib.SMTP, "connect", broken)
    with pytest.raises(MailFailure) as failed:
        await SmtpSessions(SmtpSettings(host="127.0.0.1", port=1, sender="desk@localhost")).send(MESSAGE)
    assert failed.value.permanent is False and "something nobody classified" in failed.value.answer


async def test_a_line_break_in_a_name_is_a_permanent_failure() -> None:
    poisoned = Outgoing(**{**MESSAGE.__dict__, "recipient_name": "Anna\r\nBcc: x@attacker.example"})
    with pytest.raises(MailFailure) as failed:
        await SmtpSessions(SmtpSettings(host="127.0.0.1", port=1, sender="desk@localhost")).send(poisoned)
    assert failed.value.permanent is True
