"""`alliance smes import-nta` run as an operator runs it, on files written to the NTA's resource definition:
a full file (Unicode edition, zipped as the NTA ships it) then daily differences (Shift_JIS edition) keep
names, furigana, addresses and closures current, never touch what an SME told us, add new companies without
consent, and stop proposing closed ones; a bad file is one line naming row and column, and applies nothing."""

from __future__ import annotations

import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.matching import Matching
from contracts.activities import FindCandidates
from domain.corporate_number import with_check_digit
from domain.filing import Seeking
from domain.payloads import MatchingCriteria
from infra.sme_registry import STORED_COLUMNS, store_smes
from infra.tables import smes
from tests.helpers.cli import alliance
from tests.helpers.nta import nta_file, nta_row

pytestmark = pytest.mark.slow

TOLD_AT = datetime(2025, 6, 1, tzinfo=UTC)
CHUBU = with_check_digit("518001000011")
TOKAI = with_check_digit("518001000012")
NEWCO = with_check_digit("518001000013")
CITY = with_check_digit("518002000014")
GONE = with_check_digit("518001000015")


def told(number: str, name: str, name_ja: str) -> dict[str, Any]:
    """An SME as it told us about itself: consenting, precision machining in Kariya, Aichi."""
    return dict(zip(STORED_COLUMNS, (
        number, name, name_ja, "Aichi", "Kariya", ["E"], 120, 90_000_000, 1970, "precision machining; sensors",
        ["ISO 9001"], ["ASEAN"], True, TOLD_AT,
    ), strict=True))


@pytest.fixture
async def told_registry(registry: AsyncEngine) -> AsyncEngine:
    async with registry.begin() as conn:
        await store_smes(conn, [told(CHUBU, "Chubu Precision", "中部精密株式会社"),
                                told(TOKAI, "Tokai Seiki", "東海精機株式会社")], on_existing="keep")
    return registry


async def stored(engine: AsyncEngine, number: str) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(select(smes).where(smes.c.id == number))).one()


async def proposed(engine: AsyncEngine) -> list[str]:
    seeking = Seeking(technologies=["precision machining"], alliance_types=["capital_alliance"])
    found = await Matching(engine).rank(FindCandidates(seeking=seeking, criteria=MatchingCriteria(limit=20)),
                                        datetime.now(UTC))
    return [candidate.sme_id for candidate in found]


def applied(engine: AsyncEngine, *files: Path) -> str:
    done = alliance(engine, "smes", "import-nta", *map(str, files))
    assert done.returncode == 0, done.stderr
    return done.stderr


@pytest.mark.long
async def test_full_then_daily_files_keep_the_registry_current_and_never_touch_what_smes_told_us(
    told_registry: AsyncEngine, tmp_path: Path
) -> None:
    registry = told_registry
    full = nta_file([
        nta_row(1, CHUBU, updateDate="2026-10-31", name="株式会社中部精密工業", furigana="チュウブセイミツコウギョウ",
                enName="Chubu Precision Industries Co., Ltd.", prefectureName="静岡県", prefectureCode="22",
                cityName="浜松市中央区"),
        nta_row(2, TOKAI, updateDate="2026-10-31", name="東海精機株式会社", furigana="トウカイセイキ"),
        nta_row(3, NEWCO, updateDate="2026-10-31", name="合同会社ミライ技研", kind="305", furigana="ミライギケン"),
        nta_row(4, CITY, updateDate="2026-10-31", name="刈谷市", kind="201"),
        nta_row(5, GONE, updateDate="2026-10-31", name="有限会社旧工業", kind="302", process="21",
                closeDate="2020-03-31", closeCause="01"),
    ])
    zipped = tmp_path / "23_aichi_all_20261031.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("23_aichi_all_20261031.csv", full)
    assert await proposed(registry) == sorted([CHUBU, TOKAI])

    said = applied(registry, zipped)
    assert "5 row(s), 5 corporate number(s): 2 SME(s) updated (0 closed, 0 restored), 1 company(ies) added" in said
    assert "2 not taken" in said
    chubu = await stored(registry, CHUBU)
    assert (chubu.name_ja, chubu.name_kana, chubu.name) == (
        "株式会社中部精密工業", "チュウブセイミツコウギョウ", "Chubu Precision Industries Co., Ltd.")
    assert (chubu.prefecture, chubu.city, chubu.nta_updated) == ("Shizuoka", "浜松市中央区", date(2026, 10, 31))
    assert (chubu.technologies, chubu.consent, chubu.employees, chubu.industries, chubu.updated_at) == (
        "precision machining; sensors", True, 120, ["E"], TOLD_AT)
    assert (await stored(registry, TOKAI)).name == "Tokai Seiki"  # no English name published: ours stays
    newco = await stored(registry, NEWCO)
    assert (newco.name, newco.name_ja, newco.consent, newco.technologies) == (
        "合同会社ミライ技研", "合同会社ミライ技研", False, "")
    async with registry.connect() as conn:
        assert set((await conn.execute(select(smes.c.id))).scalars()) == {CHUBU, TOKAI, NEWCO}

    day = tmp_path / "diff_20261105.csv"
    day.write_bytes(nta_file([
        nta_row(7, CHUBU, process="11", updateDate="2026-11-05", name="株式会社中部テック", furigana="チュウブテック"),
        nta_row(9, CHUBU, process="11", updateDate="2026-11-05", correct="1", name="株式会社中部テクノ",
                furigana="チュウブテクノ"),
        nta_row(8, TOKAI, process="21", updateDate="2026-11-05", name="東海精機株式会社", closeDate="2026-11-04",
                closeCause="01"),
        nta_row(10, NEWCO, process="71", updateDate="2026-11-05", name="合同会社ミライ技研", kind="305",
                closeDate="2026-11-04", closeCause="11", successorCorporateNumber=CHUBU),
    ], "cp932"))
    said = applied(registry, day)
    assert "4 row(s), 3 corporate number(s): 3 SME(s) updated (2 closed, 0 restored)" in said
    assert (await stored(registry, CHUBU)).name_ja == "株式会社中部テクノ"  # the day's last row for the number wins
    tokai, newco = await stored(registry, TOKAI), await stored(registry, NEWCO)
    assert (tokai.closed_on, tokai.close_cause, tokai.consent) == (date(2026, 11, 4), "01", True)
    assert (newco.close_cause, newco.successor_id) == ("11", CHUBU)
    assert await proposed(registry) == [CHUBU]  # a closed company is never proposed

    said = applied(registry, day, zipped)  # the same day again, then last month's full file: nothing changes
    assert said.count("0 SME(s) updated") == 2
    assert (await stored(registry, CHUBU)).name_ja == "株式会社中部テクノ"

    restored = tmp_path / "diff_20261110.csv"
    restored.write_bytes(nta_file([nta_row(1, TOKAI, process="22", updateDate="2026-11-10", name="東海精機株式会社")],
                                  "cp932"))
    assert "1 SME(s) updated (0 closed, 1 restored)" in applied(registry, restored)
    assert (await stored(registry, TOKAI)).closed_on is None
    assert await proposed(registry) == sorted([CHUBU, TOKAI])


async def test_a_bad_file_is_one_line_naming_row_and_column_and_applies_nothing(
    told_registry: AsyncEngine, tmp_path: Path
) -> None:
    registry = told_registry
    bad = tmp_path / "diff_20261105.csv"
    bad.write_bytes(nta_file([
        nta_row(1, CHUBU, process="11", name="株式会社中部テクノ"),
        nta_row(2, TOKAI, process="21", closeDate="2026-11-31", closeCause="01"),
    ], "cp932"))
    done = alliance(registry, "smes", "import-nta", str(bad))
    assert done.returncode == 1
    assert done.stderr.strip() == (f"error: {bad}: line 2, column 19 (closeDate): '2026-11-31' is not a date written "
                                   "YYYY-MM-DD; nothing of it applied")
    assert (await stored(registry, CHUBU)).name_ja == "中部精密株式会社"

    registry_csv = tmp_path / "registry.csv"
    registry_csv.write_text("corporate_number,name\n")
    done = alliance(registry, "smes", "import-nta", str(registry_csv))
    assert done.returncode == 1
    assert "line 1: has 2 cells; a corporate-number publication row has 30" in done.stderr
