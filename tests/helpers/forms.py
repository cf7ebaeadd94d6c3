"""Reading the console's forms in tests."""

from __future__ import annotations

import re

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: str) -> str:
    """The CSRF token of the page's (first) form."""
    found = CSRF.search(page)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)
