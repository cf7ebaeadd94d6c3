"""Shared test material: a realistic filing, the demo people, and small helpers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from domain.model import FUND, JETRO, OVERSIGHT, Office, Role
from domain.samples import sample_filing

BIN = Path(sys.executable).parent
TEST_SERVER = BIN / "temporal-test-server"
DEV_SERVER = BIN / "temporal"




def with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def filing(company: str = "Acme GmbH", **overrides: Any) -> dict[str, Any]:
    """A filing by a German automation maker; `company` is its name, other keywords replace whole fields."""
    body = sample_filing()
    body["company"]["name"] = company
    body.update(overrides)
    return body


# (role, org) of every demo person the tests act as.
APPLICANT = (Role.APPLICANT, "acme-gmbh")
COORDINATOR = (Role.COORDINATOR, JETRO)
FUND_MEMBER = (Role.FUND_COMMITTEE, FUND)
AUDITOR = (Role.AUDITOR, OVERSIGHT)


def officer(office: Office) -> tuple[Role, str]:
    return (Role.OFFICE_OFFICER, office)


def manager(office: Office) -> tuple[Role, str]:
    return (Role.OFFICE_MANAGER, office)
