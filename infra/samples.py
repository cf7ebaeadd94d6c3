"""A realistic sample filing, shared by the benchmarks, the tests and (later) `alliance demo`."""

from __future__ import annotations

import copy
from typing import Any

_SAMPLE_FILING: dict[str, Any] = {
    "company": {
        "name": "Acme GmbH",
        "country": "DE",
        "industry": "Industrial automation",
        "website": "https://acme.example",
        "description": "Builds assembly robots for automotive suppliers.",
    },
    "contact": {"name": "Anna Schmidt", "email": "anna@acme.example", "language": "en"},
    "seeking": {
        "technologies": ["precision machining", "sensors"],
        "industries": ["E"],
        "prefectures": [],
        "alliance_types": ["capital_alliance", "fund_lp"],
    },
    "ticket_jpy": {"min": 50_000_000, "max": 500_000_000},
    "offers": "Sales channels in the EU and a service network in Germany.",
}


def sample_filing() -> dict[str, Any]:
    """A fresh copy of the sample filing's JSON body (callers may change it)."""
    return copy.deepcopy(_SAMPLE_FILING)
