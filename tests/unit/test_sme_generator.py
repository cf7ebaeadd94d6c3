"""The generated SME registry looks like what a user of the real one would check: valid, reproducible, plausible.

Pure tests: no database, no Temporal; rows are generated in memory.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.cli_registry import count_as_typed
from app.sme_generator import (
    MAX_ROWS,
    SERIALS,
    TooManyRows,
    corporate_number,
    generate_sme_records,
    generate_smes,
)
from app.sme_profiles import CERTIFICATIONS, OVERSEAS_MARKETS, TECHNOLOGY_AREAS
from domain.corporate_number import corporate_number_problem
from domain.geography import JSIC_DIVISIONS, PREFECTURE_BY_NAME, PREFECTURES, REGIONS, region_of
from infra.sme_registry import STORED_COLUMNS

NOW = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
KEYS = set(STORED_COLUMNS)  # every generated row is exactly what the registry stores
KNOWN_TECHNOLOGIES = {tech for techs in TECHNOLOGY_AREAS.values() for tech in techs}


@cache
def registry(count: int, seed: int = 0) -> tuple[dict[str, Any], ...]:
    """Generated once per (count, seed) for the whole module: the big samples are what make shares meaningful."""
    return tuple(generate_smes(count, seed=seed, now=NOW))


def share(rows: tuple[dict[str, Any], ...], matches: int) -> float:
    return matches / len(rows)


# --- the reference data ---------------------------------------------------------------------------------------


def test_the_47_prefectures_are_complete_unique_and_in_jis_order() -> None:
    assert len(PREFECTURES) == 47
    assert len({p.name for p in PREFECTURES}) == 47
    assert len({p.name_ja for p in PREFECTURES}) == 47
    assert (PREFECTURES[0].name, PREFECTURES[12].name, PREFECTURES[-1].name) == ("Hokkaido", "Tokyo", "Okinawa")
    assert PREFECTURES[0].name_ja == "北海道" and PREFECTURES[12].name_ja == "東京都"
    assert all(p.name_ja[-1] in "都道府県" for p in PREFECTURES)
    assert {p.region for p in PREFECTURES} == set(REGIONS)
    assert all(3 <= len(p.cities) <= 6 and len(set(p.cities)) == len(p.cities) for p in PREFECTURES)
    assert set(PREFECTURE_BY_NAME) == {p.name for p in PREFECTURES}


def test_enterprise_counts_follow_the_2021_census_shape() -> None:
    total = sum(p.enterprises for p in PREFECTURES)
    assert 3_200_000 <= total <= 3_500_000
    largest = sorted(PREFECTURES, key=lambda p: p.enterprises, reverse=True)
    assert largest[0].name == "Tokyo"
    assert largest[-1].name == "Tottori"


def test_region_of() -> None:
    assert region_of("Aichi") == "Chubu"
    assert region_of("Okinawa") == "Kyushu"
    assert region_of("Kyoto") == "Kinki"
    assert region_of("Atlantis") is None


def test_jsic_has_the_20_divisions() -> None:
    assert list(JSIC_DIVISIONS) == [chr(c) for c in range(ord("A"), ord("T") + 1)]
    assert JSIC_DIVISIONS["E"] == "Manufacturing"


def test_each_technology_belongs_to_exactly_one_area() -> None:
    listed = [tech for techs in TECHNOLOGY_AREAS.values() for tech in techs]
    assert len(listed) == len(set(listed)) >= 50
    assert all(len(techs) >= 4 for techs in TECHNOLOGY_AREAS.values())


# --- the generated rows ---------------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_rows_and_another_seed_others() -> None:
    first = list(generate_smes(300, seed=7, now=NOW))
    assert first == list(generate_smes(300, seed=7, now=NOW))
    other = list(generate_smes(300, seed=8, now=NOW))
    assert first != other
    assert sum(a["name_ja"] == b["name_ja"] for a, b in zip(first, other, strict=True)) < 30


def test_rows_have_exactly_the_documented_keys() -> None:
    assert all(set(row) == KEYS for row in registry(2_000))


def test_ids_are_valid_unique_corporate_numbers_from_prefecture_and_index() -> None:
    rows = registry(20_000)
    assert all(corporate_number_problem(row["id"]) is None for row in rows)
    assert len({row["id"] for row in rows}) == len(rows)
    for index, row in enumerate(rows[:500]):
        jis = PREFECTURES.index(PREFECTURE_BY_NAME[row["prefecture"]]) + 1
        assert row["id"][1:] == f"{jis:02d}0001{100_000 + index}"
        assert row["id"] == corporate_number(jis, index)


def test_prefectures_are_weighted_by_their_sme_counts() -> None:
    rows = registry(50_000)
    assert all(row["prefecture"] in PREFECTURE_BY_NAME for row in rows)
    tokyo_weight = PREFECTURE_BY_NAME["Tokyo"].enterprises / sum(p.enterprises for p in PREFECTURES)
    assert share(rows, sum(row["prefecture"] == "Tokyo" for row in rows)) == pytest.approx(tokyo_weight, abs=0.01)
    assert len({row["prefecture"] for row in rows}) == 47


def test_every_city_belongs_to_its_prefecture() -> None:
    assert all(row["city"] in PREFECTURE_BY_NAME[row["prefecture"]].cities for row in registry(20_000))


def test_industries_are_jsic_divisions_mostly_manufacturing() -> None:
    rows = registry(20_000)
    for row in rows:
        assert 1 <= len(row["industries"]) <= 2
        assert len(set(row["industries"])) == len(row["industries"])
        assert set(row["industries"]) <= set(JSIC_DIVISIONS)
    assert 0.62 <= share(rows, sum("E" in row["industries"] for row in rows)) <= 0.82


def test_technologies_are_two_to_four_distinct_known_ones() -> None:
    for row in registry(20_000):
        technologies = row["technologies"].split("; ")
        assert 2 <= len(technologies) <= 4
        assert len(set(technologies)) == len(technologies)
        assert set(technologies) <= KNOWN_TECHNOLOGIES


def test_about_85_percent_consent() -> None:
    rows = registry(20_000)
    assert all(isinstance(row["consent"], bool) for row in rows)
    assert 0.83 <= share(rows, sum(row["consent"] for row in rows)) <= 0.87


def test_figures_are_sme_like() -> None:
    rows = registry(20_000)
    for row in rows:
        assert 1 <= row["employees"] <= 2_000
        assert 10_000_000 <= row["capital_jpy"] <= 3_000_000_000 and row["capital_jpy"] % 1_000_000 == 0
        assert 1920 <= row["founded"] <= 2022
    employees = sorted(row["employees"] for row in rows)
    assert 5 <= employees[len(rows) // 4] and employees[3 * len(rows) // 4] <= 300
    small, large = (
        [row["capital_jpy"] for row in rows if row["employees"] < 20],
        [row["capital_jpy"] for row in rows if row["employees"] > 200],
    )
    assert sum(small) / len(small) < sum(large) / len(large)


def test_certifications_markets_and_updates_are_plausible() -> None:
    rows = registry(20_000)
    for row in rows:
        assert len(row["certifications"]) <= 3 and set(row["certifications"]) <= set(CERTIFICATIONS)
        assert len(row["overseas_interest"]) <= 3 and set(row["overseas_interest"]) <= set(OVERSEAS_MARKETS)
        assert row["updated_at"].tzinfo is not None
        assert NOW - timedelta(days=3 * 366) <= row["updated_at"] <= NOW
    assert 0.35 <= share(rows, sum(not row["overseas_interest"] for row in rows)) <= 0.45
    medical = [row for row in rows if "medical devices" in row["technologies"]]
    assert share(tuple(medical), sum("ISO 13485" in row["certifications"] for row in medical)) > 0.3


def test_names_are_varied() -> None:
    rows = registry(20_000)
    assert len({row["name_ja"] for row in rows}) > 15_000
    assert all(row["name"].endswith(("Co., Ltd.", "Inc.", "Corporation", "Ltd.", "LLC")) for row in rows)
    assert all(("会社" in row["name_ja"]) for row in rows)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        generate_smes(1, now=datetime(2025, 6, 1))
    with pytest.raises(TooManyRows, match="not -1"):
        generate_smes(-1, now=NOW)
    with pytest.raises(TooManyRows, match="between 0 and 5,000,000 SMEs in one run, not 5,000,001"):
        generate_smes(5_000_001, now=NOW)
    assert list(generate_smes(0, now=NOW)) == []


def test_up_to_five_million_distinct_valid_corporate_numbers() -> None:
    """Past the 900,000 serials of one registry office the next office takes over: every index has its own
    number, valid by the National Tax Agency's check digit, whatever the prefecture drawn."""
    boundaries = [0, 1, SERIALS - 1, SERIALS, SERIALS + 1, 2 * SERIALS, MAX_ROWS - 1]
    numbers = {corporate_number(jis, index) for jis in (1, 13, 47) for index in boundaries}
    assert len(numbers) == 3 * len(boundaries)
    assert all(corporate_number_problem(number) is None for number in numbers)
    assert corporate_number(13, SERIALS)[1:] == "130101100000"
    assert corporate_number(47, MAX_ROWS - 1)[1:] == "470501599999"


def test_records_are_the_rows_in_stored_column_order() -> None:
    records = list(generate_sme_records(200, seed=4, now=NOW))
    assert [dict(zip(STORED_COLUMNS, r, strict=True)) for r in records] == list(generate_smes(200, seed=4, now=NOW))


@pytest.mark.parametrize(
    ("typed", "shown"),
    [("5000001", "'5000001'"), ("0", "'0'"), ("-5", "'-5'"), ("abc", "'abc'"), ("1.5", "'1.5'"), ("", "''"),
     ("1e6", "'1e6'"), ("9" * 5000, repr("9" * 39 + "…")), ("3,4", "'3,4'"), ("1_000", "'1_000'"),
     ("٣٤٠", "'٣٤٠'")],
)
def test_a_count_seed_smes_cannot_make_is_one_line_before_any_database(typed: str, shown: str) -> None:
    """`alliance seed-smes --count N` for a count the generator cannot make (too many, none, negative, not a whole
    number) says what it takes in one line, exit status 2, and reaches no database (none is running here)."""
    result = CliRunner().invoke(app, ["seed-smes", "--count", typed])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"seed-smes: --count takes a whole number from 1 to 5,000,000, not {shown}"
    ]
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("typed", "rows"), [
    ("3400000", 3_400_000), ("3,400,000", 3_400_000), ("３４０００００", 3_400_000), (" 1 ", 1),
    ("３，４００，０００", 3_400_000), ("0000000005", 5),
])
def test_seed_smes_takes_a_count_as_people_type_it(typed: str, rows: int) -> None:
    assert count_as_typed(typed) == rows
