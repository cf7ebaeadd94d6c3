"""A message is written exactly as the standard library's default policy writes it (the relay's policy only
makes each header class once), and a header that would inject another is still refused."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from infra.smtp import MailFailure, Outgoing, compose

SENDER = "Case Desk <desk@example.jp>"


def outgoing(name: str = "山田 花子", subject: str = "案件 GA-2026-ABCDE を受け付けました") -> Outgoing:
    return Outgoing(id="0d6f1f6e-2b7b-4f0e-9c39-3f8b7a4e5d21", case_id="c1", recipient_name=name,
                    recipient_email="hanako@example.co.jp", subject=subject, body="山田様\n\n" + "本文 " * 80)


def as_the_standard_policy_writes(message: EmailMessage) -> bytes:
    again = EmailMessage()
    for name, value in message.items():
        if name.lower() not in ("content-type", "content-transfer-encoding", "mime-version"):
            again[name] = str(value)
    again.set_content(outgoing().body)
    return again.as_bytes()


def test_the_relay_writes_the_message_byte_for_byte_as_the_default_policy_does() -> None:
    for _ in range(3):  # the header classes are made on the first message and reused after
        message = compose(outgoing(), SENDER)
        assert message.as_bytes() == as_the_standard_policy_writes(message)
    assert str(message["To"]) == "山田 花子 <hanako@example.co.jp>"


@pytest.mark.parametrize("field", ["name", "subject"])
def test_a_line_break_in_a_header_is_refused_for_good(field: str) -> None:
    with pytest.raises(MailFailure) as refused:
        compose(outgoing(**{field: "Anna\r\nBcc: everyone@example.com"}), SENDER)
    assert refused.value.permanent


@pytest.mark.parametrize("ending", ["\n", "\r", "\r\n", "\x0b", "\x00"])
@pytest.mark.parametrize("field", ["recipient_name", "subject", "case_id"])
def test_a_header_ending_in_a_line_break_or_holding_a_control_character_is_refused_for_good(
        field: str, ending: str) -> None:
    """The standard library writes a trailing line break as it is: `Subject: abc` and a blank line, which ends the
    header, so Message-ID, Date and the rest went into the body."""
    fields = {"id": "0d6f1f6e-2b7b-4f0e-9c39-3f8b7a4e5d21", "case_id": "c1", "recipient_name": "Anna",
              "recipient_email": "anna@example.com", "subject": "Case GA-2026-ABCDE", "body": "Hello"}
    with pytest.raises(MailFailure) as refused:
        compose(Outgoing(**{**fields, field: fields[field] + ending}), SENDER)
    assert refused.value.permanent
    assert ("CR or LF" if ending[0] in "\r\n" else f"U+{ord(ending):04X}") in refused.value.answer


def test_a_tab_in_a_name_is_written() -> None:
    message = compose(outgoing(name="Anna\tSchmidt"), SENDER)
    assert b"\n\n" not in message.as_bytes().split(b"\n\n", 1)[0]
    assert message["Message-ID"] == "<0d6f1f6e-2b7b-4f0e-9c39-3f8b7a4e5d21@case-desk>"


def test_headers_parsed_once_still_belong_to_their_own_message() -> None:
    """Headers are parsed once per value and reused (the sender, a recipient, a case's subject): interleaved
    messages to different people each carry their own, byte for byte as the default policy writes them."""
    hanako, anna = outgoing(), outgoing(name="Anna Schmidt (Acme GmbH)", subject="Case GA-2026-ABCDE accepted")
    for first, second in ((hanako, anna), (anna, hanako), (hanako, hanako)):
        one, other = compose(first, SENDER), compose(second, SENDER)
        for message, sent in ((one, first), (other, second)):
            assert message.as_bytes() == as_the_standard_policy_writes(message)
            assert message["Subject"] == sent.subject
            assert message["To"].addresses[0].display_name == sent.recipient_name


@pytest.mark.parametrize("separator", ["\x85", "\u2028", "\u2029", "\x9b"])
@pytest.mark.parametrize("field", ["recipient_name", "subject", "case_id"])
def test_a_unicode_line_separator_or_c1_control_is_refused_wherever_it_stands(field: str, separator: str) -> None:
    """Python counts NEL, U+2028 and U+2029 as line breaks: the standard library refused one inside a subject but
    wrote one at its end, or anywhere in a name or a case id, as it was (raw bytes under SMTPUTF8), as it did the
    C1 controls; each is refused for good, by name."""
    fields = {"id": "0d6f1f6e-2b7b-4f0e-9c39-3f8b7a4e5d21", "case_id": "c1", "recipient_name": "Anna",
              "recipient_email": "anna@example.com", "subject": "Case GA-2026-ABCDE", "body": "Hello"}
    for value in (fields[field] + separator, separator + fields[field]):
        with pytest.raises(MailFailure) as refused:
            compose(Outgoing(**{**fields, field: value}), SENDER)
        assert refused.value.permanent
        assert f"U+{ord(separator):04X}" in refused.value.answer
