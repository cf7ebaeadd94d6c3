"""A realistic sample filing, shared by the benchmarks, the tests and (later) `alliance demo`."""

from __future__ import annotations

import copy
from datetime import datetime
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


# A small demo registry, enough for the demo and the tests to find partners without generating one:
# (corporate number, name, name in Japanese, prefecture, city, employees, capital in JPY, technologies,
#  certifications, overseas interest). All are manufacturers (JSIC E), founded long ago, consenting.
DEMO_SMES: list[tuple[str, str, str, str, str, int, int, str, list[str], list[str]]] = [
    (
        "1010001000006",
        "Aichi Precision Works",
        "愛知精密工業",
        "Aichi",
        "Toyota",
        120,
        90_000_000,
        "precision machining; sensors; CNC",
        ["ISO 9001", "IATF 16949"],
        ["Europe"],
    ),
    (
        "1010001000014",
        "Osaka Sensor Labs",
        "大阪センサー研究所",
        "Osaka",
        "Higashiosaka",
        45,
        30_000_000,
        "sensors; MEMS; signal processing",
        ["ISO 9001"],
        ["North America", "Europe"],
    ),
    (
        "1010001000022",
        "Niigata Surface Tech",
        "新潟表面技術",
        "Niigata",
        "Tsubame",
        80,
        50_000_000,
        "surface treatment; plating",
        ["ISO 14001"],
        [],
    ),
    (
        "1010001000030",
        "Kyoto Biomaterials",
        "京都バイオマテリアル",
        "Kyoto",
        "Kyoto",
        30,
        20_000_000,
        "biomaterials; precision machining",
        ["ISO 13485"],
        ["ASEAN"],
    ),
    (
        "2010001000005",
        "Hamamatsu Motion Parts",
        "浜松モーション部品",
        "Shizuoka",
        "Hamamatsu",
        210,
        300_000_000,
        "precision machining; servo motors; sensors",
        ["ISO 9001"],
        ["Europe", "ASEAN"],
    ),
    (
        "2010001000013",
        "Sendai Optics Lab",
        "仙台光学研究所",
        "Miyagi",
        "Sendai",
        35,
        25_000_000,
        "optical sensors; lasers",
        [],
        ["North America"],
    ),
    (
        "2010001000021",
        "Kobe Coating Works",
        "神戸コーティング",
        "Hyogo",
        "Kobe",
        90,
        60_000_000,
        "surface treatment; coatings",
        ["ISO 9001"],
        [],
    ),
    (
        "1010001000039",
        "Nagano Micro Devices",
        "長野マイクロデバイス",
        "Nagano",
        "Suwa",
        60,
        40_000_000,
        "MEMS; sensors; precision machining",
        ["ISO 9001"],
        ["Europe"],
    ),
    (
        "1010001000047",
        "Fukuoka Robotics",
        "福岡ロボティクス",
        "Fukuoka",
        "Kitakyushu",
        140,
        100_000_000,
        "robot arms; control software",
        ["ISO 9001"],
        ["ASEAN"],
    ),
]


def demo_sme_rows(now: datetime) -> list[dict[str, Any]]:
    """The demo registry as rows of `smes`."""
    return [
        {
            "id": number,
            "name": name,
            "name_ja": name_ja,
            "prefecture": prefecture,
            "city": city,
            "industries": ["E"],
            "employees": employees,
            "capital_jpy": capital,
            "founded": 1975,
            "technologies": technologies,
            "certifications": certs,
            "overseas_interest": overseas,
            "consent": True,
            "updated_at": now,
        }
        for number, name, name_ja, prefecture, city, employees, capital, technologies, certs, overseas in DEMO_SMES
    ]
