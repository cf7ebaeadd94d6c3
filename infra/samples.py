"""A realistic sample filing, shared by the benchmarks, the tests and (later) `alliance demo`."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.tables import smes

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


# A small demo registry (corporate number, name, name in Japanese, prefecture, JSIC divisions, employees,
# technologies), enough for matching to find partners until the full registry and its generator arrive.
DEMO_SMES: list[tuple[str, str, str, str, list[str], int, str]] = [
    (
        "1010001000006",
        "Aichi Precision Works",
        "愛知精密工業",
        "Aichi",
        ["E"],
        120,
        "precision machining; sensors; CNC",
    ),
    (
        "1010001000014",
        "Osaka Sensor Labs",
        "大阪センサー研究所",
        "Osaka",
        ["E"],
        45,
        "sensors; MEMS; signal processing",
    ),
    ("1010001000022", "Niigata Surface Tech", "新潟表面技術", "Niigata", ["E"], 80, "surface treatment; plating"),
    (
        "1010001000030",
        "Kyoto Biomaterials",
        "京都バイオマテリアル",
        "Kyoto",
        ["E"],
        30,
        "biomaterials; precision machining",
    ),
    (
        "2010001000005",
        "Hamamatsu Motion Parts",
        "浜松モーション部品",
        "Shizuoka",
        ["E"],
        210,
        "precision machining; servo motors; sensors",
    ),
    ("2010001000013", "Sendai Optics Lab", "仙台光学研究所", "Miyagi", ["E"], 35, "optical sensors; lasers"),
    ("2010001000021", "Kobe Coating Works", "神戸コーティング", "Hyogo", ["E"], 90, "surface treatment; coatings"),
    (
        "2010001000039",
        "Nagano Micro Devices",
        "長野マイクロデバイス",
        "Nagano",
        ["E"],
        60,
        "MEMS; sensors; precision machining",
    ),
    ("2010001000047", "Fukuoka Robotics", "福岡ロボティクス", "Fukuoka", ["E"], 140, "robot arms; control software"),
]


async def seed_demo_smes(engine: AsyncEngine) -> int:
    """Add the demo SMEs that are missing (idempotent); how many the registry had none of."""
    now = datetime.now(UTC)
    rows = [
        {
            "id": i,
            "name": n,
            "name_ja": j,
            "prefecture": p,
            "industries": ind,
            "employees": e,
            "technologies": t,
            "consent": True,
            "updated_at": now,
        }
        for i, n, j, p, ind, e, t in DEMO_SMES
    ]
    async with engine.begin() as conn:
        result = await conn.execute(insert(smes).values(rows).on_conflict_do_nothing())
    return int(result.rowcount or 0)
