"""E-mail addresses as the filing and the registry take them: normalised, refused with a reason, and cheap to
validate again (a case read back validates its contact each time) without keeping what could not be one."""

import pytest
from pydantic import ValidationError

from domain.email_addresses import normalized_email
from domain.filing import Contact


def contact(email: str) -> Contact:
    return Contact(name="Anna Schmidt", email=email, language="en")


def test_an_address_is_kept_as_normalised_whether_validated_once_or_again() -> None:
    first = contact("Anna.Schmidt@ACME.example.DE").email
    again = contact("Anna.Schmidt@ACME.example.DE").email
    assert first == again == "Anna.Schmidt@acme.example.de"


def test_an_invalid_address_is_refused_each_time_with_its_reason() -> None:
    for _ in range(2):
        with pytest.raises(ValidationError, match="not an e-mail address"):
            contact("anna.schmidt@")


def test_a_huge_value_is_refused_and_never_kept_in_the_cache() -> None:
    before = normalized_email.cache_info().currsize
    with pytest.raises(ValidationError):
        contact("a" * 100_000 + "@example.jp")
    assert normalized_email.cache_info().currsize == before
