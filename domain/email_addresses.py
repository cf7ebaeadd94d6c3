"""E-mail addresses: normalised as `email_validator` reads them, compared by their ASCII domain, and asked
whether the mail server can take them (SMTPUTF8).
"""

from __future__ import annotations

import functools

from email_validator import EmailNotValidError, validate_email

EMAIL_CACHED_CHARS = 320


@functools.lru_cache(maxsize=4096)
def normalized_email(value: str) -> str:
    """The address as `email_validator` normalises it (no DNS); raises `EmailNotValidError`. Cached (issue 15):
    the same few addresses are validated each time a case is read back, 70 µs apiece."""
    return validate_email(value, check_deliverability=False, allow_smtputf8=True).normalized


def address_key(address: str) -> str:
    """What an address is compared by: its domain as the ASCII A-label (`例え.jp` and `xn--r8jz45g.jp` are one
    domain), the whole without case. Something that is no address is compared as typed, without case."""
    try:
        found = validate_email(address.strip(), check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError:
        return address.strip().casefold()
    return f"{found.local_part}@{found.ascii_domain}".casefold()


def smtputf8_problem(address: str, smtp_utf8: bool) -> str | None:
    """Why `address` cannot be accepted by a desk whose mail server does (`smtp_utf8`) or does not take
    SMTPUTF8: a local part (before the @) with non-ASCII letters needs it. None when it can be."""
    local = address.rpartition("@")[0]
    if smtp_utf8 or local.isascii():
        return None
    return (
        f"the part before the @ ({local!r}) must be ASCII: the mail server does not take international "
        "addresses (SMTPUTF8); give an ASCII address"
    )
