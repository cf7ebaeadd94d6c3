"""Shared test material: a realistic filing and small helpers (the demo people are in tests.helpers.people)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from domain.samples import sample_filing

BIN = Path(sys.executable).parent
TEST_SERVER = BIN / "temporal-test-server"
DEV_SERVER = BIN / "temporal"

# The token pepper of the test settings (the `settings` fixture): tests that add users of their own use it.
PEPPER = "test-pepper"


def with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def filing(company: str = "Acme GmbH", **overrides: Any) -> dict[str, Any]:
    """A filing by a German automation maker; `company` is its name, other keywords replace whole fields."""
    body = sample_filing()
    body["company"]["name"] = company
    body.update(overrides)
    return body
