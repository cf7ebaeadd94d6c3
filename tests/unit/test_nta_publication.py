"""Reading the NTA's corporate-number publication files (full and daily difference, Unicode and Shift_JIS
editions), with no database: every row read as the resource definition says, and a bad file refused at its
first bad cell, named by line and column."""

from __future__ import annotations

from datetime import date

import pytest

from domain.corporate_number import with_check_digit
from domain.nta_publication import COLUMNS, Publication, PublicationError, decoded_lines, read_publication
from tests.helpers.nta import nta_file, nta_row

LIVE = with_check_digit("518001000001")
OTHER = with_check_digit("518001000002")


def read(data: bytes, encoding: str | None = None) -> list[Publication]:
    return list(read_publication(decoded_lines(data.splitlines(keepends=True), encoding)))


def refusal(data: bytes, encoding: str | None = None) -> str:
    with pytest.raises(PublicationError) as refused:
        read(data, encoding)
    return str(refused.value)


@pytest.mark.parametrize("encoding", ["utf-8", "cp932"])
def test_a_full_file_row_is_read_in_either_edition(encoding: str) -> None:
    data = nta_file([nta_row(1, LIVE, name="株式会社髙橋製作所" if encoding == "utf-8" else "株式会社高橋製作所",
                             furigana="タカハシセイサクショ", enName="Takahashi Works Co., Ltd.")], encoding)
    (row,) = read(data)
    assert row.corporate_number == LIVE
    assert row.name_ja.endswith("橋製作所") and row.furigana == "タカハシセイサクショ"
    assert row.name_en == "Takahashi Works Co., Ltd."
    assert (row.prefecture, row.city) == ("Aichi", "刈谷市")  # stored by the English name the registry uses
    assert row.is_company and row.closed_on is None and row.updated == date(2026, 11, 2)


def test_a_daily_difference_reads_closures_mergers_and_deletions() -> None:
    data = nta_file([
        nta_row(1, LIVE, process="21", closeDate="2026-11-01", closeCause="01"),
        nta_row(2, OTHER, process="71", closeDate="2026-11-01", closeCause="11", successorCorporateNumber=LIVE),
        nta_row(3, with_check_digit("518001000003"), process="99", changeDate="2026-10-30"),
        nta_row(4, with_check_digit("518001000004"), kind="201", name="刈谷市"),
        nta_row(5, with_check_digit("518001000005"), kind="401", prefectureName="", prefectureCode="",
                cityName="", cityCode="", addressOutside="アメリカ合衆国カリフォルニア州"),
    ], "cp932")
    closed, merged, deleted, city_hall, abroad = read(data)
    assert (closed.closed_on, closed.close_cause) == (date(2026, 11, 1), "01")
    assert (merged.close_cause, merged.successor) == ("11", LIVE)
    assert deleted.closed_on == date(2026, 10, 30)
    assert not city_hall.is_company
    assert abroad.prefecture is None


@pytest.mark.parametrize(("line", "column", "cells", "says"), [
    (2, "corporateNumber", {"corporateNumber": LIVE[:-1] + str((int(LIVE[-1]) + 1) % 10)}, "check digit"),
    (2, "process", {"process": "05"}, "'05' is not one of the codes"),
    (2, "updateDate", {"updateDate": "2026/11/02"}, "not a date written YYYY-MM-DD"),
    (2, "changeDate", {"changeDate": "2026-02-30"}, "not a date"),
    (2, "name", {"name": ""}, "is empty"),
    (2, "kind", {"kind": "300"}, "'300' is not one of the codes"),
    (2, "prefectureName", {"prefectureName": "関東州"}, "not a prefecture"),
    (2, "prefectureCode", {"prefectureCode": "13"}, "is not 愛知県's code (23)"),
    (2, "closeCause", {"closeDate": "2026-11-01", "closeCause": "02"}, "'02' is not one of the codes"),
    (2, "successorCorporateNumber", {"successorCorporateNumber": "123"}, "exactly 13 digits"),
    (2, "latest", {"latest": "2"}, "'2' is not one of the codes"),
])
def test_a_bad_cell_refuses_the_file_naming_its_line_and_column(
    line: int, column: str, cells: dict[str, str], says: str
) -> None:
    data = nta_file([nta_row(1, OTHER), nta_row(2, LIVE, **cells), nta_row(3, LIVE, process="foo")])
    message = refusal(data)
    assert message.startswith(f"line {line}, column {COLUMNS.index(column) + 1} ({column}): ")
    assert says in message
    assert "\n" not in message


def test_a_row_of_another_shape_a_header_or_an_empty_file_is_refused_in_one_line() -> None:
    short = nta_file([nta_row(1, LIVE)]) + b'2,"' + LIVE.encode() + b'",01\r\n'
    assert refusal(short) == "line 2: has 3 cells; a corporate-number publication row has 30"
    header = (",".join(COLUMNS) + "\r\n").encode() + nta_file([nta_row(1, LIVE)])
    assert refusal(header).startswith("line 1: is a header row")
    assert refusal(b"\r\n\r\n") == "line 1: the file has no rows"


def test_a_line_in_neither_encoding_or_not_in_the_declared_one_is_named() -> None:
    good = nta_file([nta_row(1, LIVE)])
    assert refusal(good + b"\xff\xfe\r\n").startswith("line 2: is not UTF-8 text (byte 0xFF)")
    sjis = nta_file([nta_row(1, LIVE)], "cp932")
    assert refusal(sjis, "utf-8").startswith("line 1: is not UTF-8 text")
    assert read(sjis, "shift_jis")[0].name_ja == "株式会社中部精密"
    assert "not one the NTA publishes" in refusal(good, "latin-1")
