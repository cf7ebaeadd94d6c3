"""A deterministic, realistic registry of Japanese SMEs for demos, benchmarks and matching tests.

Everything comes from one `random.Random(seed)`: the same (count, seed, now) gives the same rows on any
machine, and no real company's data is needed. Rows are coherent rather than uniform noise: prefectures
are weighted by their SME counts, a company's technologies come mostly from one area, its name and
certifications fit that area, and capital grows with headcount. What such companies look like (areas, word
lists, legal forms) is in `app.sme_profiles`; this module draws rows from it and seeds the registry.

Speed matters (a national registry is 3.4 million rows; this loop, about 40 µs a row on the shared two-core
machine, is most of a seed's Python time), so every weighted draw
is a `bisect` over cumulative weights computed at import, the technology combinations of each area are
pre-joined, check digits are added up from precomputed parts, and rows are plain tuples in the order
`infra.sme_registry.STORED_COLUMNS` names (`generate_smes` gives them as dicts, for tests and the CSV bench).
"""

from __future__ import annotations

import math
import random
from bisect import bisect
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from itertools import accumulate, combinations
from statistics import NormalDist
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app.sme_profiles import (
    AREAS,
    BRAND_WORDS,
    LEGAL_FORMS,
    MARKET_CUM,
    OVERSEAS_MARKETS,
    REGION_WORDS,
    SURNAMES,
)
from domain.corporate_number import check_digit_of_sum, weighted_sum, with_check_digit
from domain.geography import PREFECTURES
from infra.sme_bulk import bulk_add_smes
from infra.sme_registry import STORED_COLUMNS, StoreResult

SERIALS = 900_000
"""Six-digit serials run 100000..999999 within one registry office."""
MAX_ROWS = 5_000_000
"""The most rows one run makes (Japan has about 3.4 million SMEs); each has a corporate number of its own."""

_UPDATE_WINDOW_SECONDS = 3 * 365 * 24 * 3600

def _cumulative(weights: list[int]) -> tuple[int, ...]:
    return tuple(accumulate(weights))


def _joined_combinations(technologies: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """For k = 0..4, every k-subset of an area's technologies already joined by "; " (k = 0 is unused)."""
    return tuple(tuple("; ".join(combo) for combo in combinations(technologies, k)) for k in range(5))


_PREFECTURE_CUM = _cumulative([p.enterprises for p in PREFECTURES])
_AREA_LIST = tuple(AREAS.values())
_AREA_CUM = _cumulative([a.weight for a in _AREA_LIST])
_AREA_COMBOS = tuple(_joined_combinations(a.technologies) for a in _AREA_LIST)
_OTHER_CUM = tuple(_cumulative([w for _, w in a.other_divisions]) for a in _AREA_LIST)
_LEGAL_CUM = _cumulative([f[2] for f in LEGAL_FORMS])
_TECH_COUNT_CUM = _cumulative([45, 35, 20])  # two, three or four technologies
_SECONDARY_FOR_E = ("I", "L", "G", "D")
_SECONDARY_FOR_E_CUM = _cumulative([40, 35, 15, 10])
_SECONDARY_OTHER = ("D", "G", "I", "L", "R")

# Lognormal draws by table look-up (an inverse CDF at 8,192 quantiles), several times cheaper than rng.gauss:
# headcounts with median 30 and sigma 1.2, capped at 2,000; capital per head, median 1.5 million yen.
_QUANTILES = 8192
_NORMAL = [NormalDist().inv_cdf((i + 0.5) / _QUANTILES) for i in range(_QUANTILES)]
_EMPLOYEES = tuple(min(2_000, max(1, round(30.0 * math.exp(1.2 * z)))) for z in _NORMAL)
_CAPITAL_PER_HEAD = tuple(1.5 * math.exp(0.7 * z) for z in _NORMAL)


class TooManyRows(ValueError):
    """A count the generator cannot make: the message is one line for the person who asked."""


def generate_smes(count: int, *, seed: int = 0, now: datetime) -> Iterator[dict[str, Any]]:
    """`count` SME rows as dicts keyed by `STORED_COLUMNS`, as `generate_sme_records` makes them."""
    records = generate_sme_records(count, seed=seed, now=now)
    return (dict(zip(STORED_COLUMNS, record, strict=True)) for record in records)


def generate_sme_records(count: int, *, seed: int = 0, now: datetime) -> Iterator[tuple[Any, ...]]:
    """`count` SME rows, tuples in `STORED_COLUMNS` order, reproducible from (count, seed, now).

    Row `index` has the corporate number of base `PP BB 01 SSSSSS`: PP the JIS code of the row's prefecture and
    BB = index // SERIALS (together the registry office), kind 01 (kabushiki kaisha), serial 100000 +
    index % SERIALS; so every row of a run has its own number, up to MAX_ROWS rows (raises TooManyRows past it).
    `updated_at` lies within the three years before `now`, which must be timezone-aware so rows can go straight
    into a timestamptz column.
    """
    if not 0 <= count <= MAX_ROWS:
        raise TooManyRows(f"the generator makes between 0 and {MAX_ROWS:,} SMEs in one run, not {count:,}")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return _rows(count, random.Random(seed), now)


def corporate_number(jis: int, index: int) -> str:
    """The corporate number of row `index` in prefecture `jis` (1..47), digit by digit: what `_rows` adds up
    from precomputed parts."""
    return with_check_digit(f"{jis:02d}{index // SERIALS:02d}01{100_000 + index % SERIALS}")


_SERIAL_LOW = tuple(weighted_sum(f"{n:03d}", 1) for n in range(1000))
_SERIAL_HIGH = tuple(weighted_sum(f"{n:03d}", 4) for n in range(1000))


def _offices(block: int) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Per prefecture (JIS order) the base's first six digits for serial block `block`, and their weighted sum."""
    prefixes = tuple(f"{jis:02d}{block:02d}01" for jis in range(1, len(PREFECTURES) + 1))
    return prefixes, tuple(weighted_sum(prefix, 7) for prefix in prefixes)


def _rows(count: int, rng: random.Random, now: datetime) -> Iterator[tuple[Any, ...]]:
    # Local names and one uniform draw per decision: this loop is the hot path of every benchmark.
    draw = rng.random
    sqrt = math.sqrt
    prefecture_total = _PREFECTURE_CUM[-1]
    area_total = _AREA_CUM[-1]
    legal_total = _LEGAL_CUM[-1]
    tech_count_total = _TECH_COUNT_CUM[-1]
    secondary_total = _SECONDARY_FOR_E_CUM[-1]
    market_total = MARKET_CUM[-1]
    area_count = len(_AREA_LIST)
    founded_mode = (1968 - 1920) / (2023 - 1920)  # triangular over 1920..2022 peaking in the high-growth era
    low, high = _SERIAL_LOW, _SERIAL_HIGH
    prefixes, prefix_sums = _offices(0)

    for index in range(count):
        serial = 100_000 + index % SERIALS
        if serial == 100_000 and index:
            prefixes, prefix_sums = _offices(index // SERIALS)
        jis = bisect(_PREFECTURE_CUM, draw() * prefecture_total)
        prefecture = PREFECTURES[jis]
        cities = prefecture.cities
        area_index = bisect(_AREA_CUM, draw() * area_total)
        area = _AREA_LIST[area_index]

        # Headcount and capital per head lognormal, capital rounded to a million yen, founding year triangular.
        employees = _EMPLOYEES[int(draw() * _QUANTILES)]
        capital = min(3_000, max(10, round(employees * _CAPITAL_PER_HEAD[int(draw() * _QUANTILES)]))) * 1_000_000
        u = draw()
        if u < founded_mode:
            founded = 1920 + int(103 * sqrt(u * founded_mode))
        else:
            founded = min(2022, int(2023 - 103 * sqrt((1.0 - u) * (1.0 - founded_mode))))

        # Name: a surname, a regional or a brand word; a trade word and/or a kind of firm; a legal form.
        roll = draw()
        if roll < 0.6:
            prefix_ja, prefix_en = SURNAMES[int(draw() * len(SURNAMES))]
        elif roll < 0.8:
            words = REGION_WORDS[prefecture.region]
            prefix_ja, prefix_en = words[int(draw() * len(words))]
        else:
            prefix_ja, prefix_en = BRAND_WORDS[int(draw() * len(BRAND_WORDS))]
        kinds = area.kinds
        roll = draw()
        if roll < 0.2:
            trade_ja, trade_en = kinds[int(draw() * len(kinds))]
        else:
            trade_ja, trade_en = area.qualifiers[int(draw() * len(area.qualifiers))]
            if roll < 0.6:
                kind_ja, kind_en = kinds[int(draw() * len(kinds))]
                trade_ja, trade_en = trade_ja + kind_ja, f"{trade_en} {kind_en}"
        form_ja, form_en, _, since, until = LEGAL_FORMS[bisect(_LEGAL_CUM, draw() * legal_total)]
        if not since <= founded <= until:
            form_ja, form_en = "株式会社", "Co., Ltd."
        stem = prefix_ja + trade_ja
        name_ja = form_ja + stem if draw() < 0.5 else stem + form_ja

        # Industries: the primary division follows the area; a quarter add a second one.
        if draw() < area.manufacturing_share:
            primary = "E"
        else:
            other_cum = _OTHER_CUM[area_index]
            primary = area.other_divisions[bisect(other_cum, draw() * other_cum[-1])][0]
        industries = [primary]
        if draw() < 0.25:
            if primary == "E":
                second = _SECONDARY_FOR_E[bisect(_SECONDARY_FOR_E_CUM, draw() * secondary_total)]
            elif draw() < 0.6:
                second = "E"
            else:
                second = _SECONDARY_OTHER[int(draw() * len(_SECONDARY_OTHER))]
            if second != primary:
                industries.append(second)

        # Technologies: two to four, mostly from the company's own area, sometimes one from another.
        wanted = 2 + bisect(_TECH_COUNT_CUM, draw() * tech_count_total)
        combos = _AREA_COMBOS[area_index]
        if draw() < 0.15:
            own = combos[wanted - 1]
            other = _AREA_LIST[(area_index + 1 + int(draw() * (area_count - 1))) % area_count].technologies
            technologies = f"{own[int(draw() * len(own))]}; {other[int(draw() * len(other))]}"
        else:
            own = combos[wanted]
            technologies = own[int(draw() * len(own))]

        certifications = [cert for cert, chance in area.certifications if draw() < chance][:3]

        markets: list[str] = []
        if draw() >= 0.4:
            drawn = {bisect(MARKET_CUM, draw() * market_total) for _ in range(1 + int(draw() * 3))}
            markets = [OVERSEAS_MARKETS[i] for i in sorted(drawn)]

        total = prefix_sums[jis] + high[serial // 1000] + low[serial % 1000]
        yield (
            f"{check_digit_of_sum(total)}{prefixes[jis]}{serial}",
            f"{prefix_en} {trade_en} {form_en}",
            name_ja,
            prefecture.name,
            cities[int(draw() * len(cities))],
            industries,
            employees,
            capital,
            founded,
            technologies,
            certifications,
            markets,
            draw() < 0.85,
            now - timedelta(seconds=int(draw() * _UPDATE_WINDOW_SECONDS)),
        )


async def seed_smes(
    conn: AsyncConnection,
    count: int,
    *,
    seed: int,
    now: datetime,
    progress: Callable[[int], None] = lambda done: None,
    indexing: Callable[[], None] = lambda: None,
) -> StoreResult:
    """Add a generated registry of `count` SMEs (deterministic for a seed); existing SMEs are kept.

    Raises TooManyRows (before writing anything) for a count the generator cannot make."""
    records = generate_sme_records(count, seed=seed, now=now)
    return await bulk_add_smes(conn, records, expected=count, progress=progress, indexing=indexing)
