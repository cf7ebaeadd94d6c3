"""The relay's SMTP sessions (infra/smtp.py, issue 15): messages go over an open session instead of one session
each, against a real SMTP server; a session that failed, or idled too long, is never used again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.mail_sink import KeepMessages
from infra.smtp import IDLE_SESSION_SECONDS, MailFailure, Outgoing, SmtpSessions, SmtpSettings
from infra.startup import free_port
from tests.helpers.mail import Picky, serve


class Counting(Picky):
    """Keeps what it receives and counts the sessions that greeted it."""

    def __init__(self, folder: Path, refuse: frozenset[str] = frozenset()) -> None:
        super().__init__(folder, refuse=refuse)
        self.sessions = 0

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
                          ) -> list[str]:
        self.sessions += 1
        session.host_name = hostname
        return responses


def message(n: int, to: str = "anna@acme.example") -> Outgoing:
    return Outgoing(id=f"m-{n}", case_id="c-1", recipient_name="Anna", recipient_email=to, subject=f"s{n}",
                    body="b")


@pytest.fixture
def server(tmp_path: Path) -> Any:
    handler, port = Counting(tmp_path, refuse=frozenset({"nobody@acme.example"})), free_port()
    controller = serve(handler, port)
    yield handler, SmtpSettings(host="127.0.0.1", port=port, sender="desk@localhost")
    controller.stop()


def received(handler: KeepMessages) -> int:
    return len(list(handler.folder.glob("*.eml")))


async def test_messages_share_one_open_session(server: Any) -> None:
    handler, smtp = server
    sessions = SmtpSessions(smtp)
    for n in range(5):
        await sessions.send(message(n))
    await sessions.close()
    assert (received(handler), handler.sessions) == (5, 1)


async def test_a_refused_message_closes_its_session_and_the_next_one_opens_another(server: Any) -> None:
    handler, smtp = server
    sessions = SmtpSessions(smtp)
    await sessions.send(message(1))
    with pytest.raises(MailFailure) as refused:
        await sessions.send(message(2, to="nobody@acme.example"))
    assert refused.value.permanent
    await sessions.send(message(3))
    await sessions.close()
    assert (received(handler), handler.sessions) == (2, 2)


async def test_a_session_idle_too_long_is_not_reused(server: Any) -> None:
    handler, smtp = server
    now = [0.0]
    sessions = SmtpSessions(smtp, clock=lambda: now[0])
    await sessions.send(message(1))
    now[0] += IDLE_SESSION_SECONDS + 1
    await sessions.send(message(2))
    await sessions.close()
    assert (received(handler), handler.sessions) == (2, 2)


async def test_a_kept_session_the_server_closed_costs_the_message_nothing(tmp_path: Path) -> None:
    """The server went away and came back between two messages (as one that drops idle sessions does): the second
    message goes out at once on a new session, not after a failed try and a backoff."""
    port = free_port()
    first, second = Counting(tmp_path / "first"), Counting(tmp_path / "second")
    sessions = SmtpSessions(SmtpSettings(host="127.0.0.1", port=port, sender="desk@localhost"))
    controller = serve(first, port)
    await sessions.send(message(1))
    controller.stop()
    controller = serve(second, port)
    try:
        await sessions.send(message(2))
    finally:
        await sessions.close()
        controller.stop()
    assert (received(first), received(second), second.sessions) == (1, 1, 1)
