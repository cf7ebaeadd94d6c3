"""The SME registry's own rules, with no database: corporate numbers and reading a registry CSV.

A registry file is read all or nothing: either every record, or every problem with the line (the header
is line 1, blank lines count) and the column an officer must fix.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.corporate_number import check_digit, corporate_number_problem, with_check_digit
from domain.samples import DEMO_SMES
from domain.sme_registry import COLUMNS, REQUIRED_COLUMNS, RowProblem, read_registry_csv

HEADER = "corporate_number,name,name_ja,prefecture,industries,employees,technologies,consent"
FIRST = with_check_digit("990100000001")
SECOND = with_check_digit("990100000002")
THIRD = with_check_digit("990100000003")


def row(number: str = FIRST, **cells: str) -> str:
    """One line under HEADER: a good SME in Aichi unless `cells` says otherwise."""
    values = {
        "corporate_number": number,
        "name": "Chubu Sensor Works",
        "name_ja": "中部センサー工業",
        "prefecture": "Aichi",
        "industries": "E",
        "employees": "40",
        "technologies": "sensors",
        "consent": "yes",
    } | cells
    return ",".join(values[name] for name in HEADER.split(",")) + "\n"


def read(*lines: str) -> tuple[list[str], list[RowProblem]]:
    """The corporate numbers read, and the problems, of a file made of `lines`."""
    result = read_registry_csv("".join(lines).splitlines(keepends=True))
    return [record.corporate_number for record in result.records], result.problems


# Corporate numbers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    ["7000012050002", "5010401016523", "4000012090001", *(sme[0] for sme in DEMO_SMES)],
)
def test_real_corporate_numbers_are_valid(number: str) -> None:
    assert corporate_number_problem(number) is None
    assert with_check_digit(number[1:]) == number


def test_the_check_digit_follows_the_national_tax_agency_rule() -> None:
    # Base 000012050002 read from the right: 2·1 + 0·2 + 0·1 + 0·2 + 5·1 + 0·2 + 2·1 + 1·2 = 11; 9 - 11 mod 9 = 7.
    assert check_digit("000012050002") == 7
    assert check_digit("000000000000") == 9
    assert with_check_digit("010401016523") == "5010401016523"


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("7000012050003", 6),  # last digit changed
        ("7000012050012", 5),  # a middle digit changed
        ("8000012050002", 7),  # the check digit itself changed
        ("5010401016532", 4),  # two digits swapped
    ],
)
def test_a_changed_digit_is_refused_naming_the_expected_check_digit(number: str, expected: int) -> None:
    problem = corporate_number_problem(number)
    assert problem == f"check digit {number[0]} is wrong (expected {expected})"


@pytest.mark.parametrize(
    "number", ["", "700001205000", "70000120500021", "700001205000A", "７000012050002", " 7000012050002"]
)
def test_anything_but_thirteen_ascii_digits_is_refused(number: str) -> None:
    assert corporate_number_problem(number) == "a corporate number is exactly 13 digits"


@pytest.mark.parametrize("base", ["", "00001205000", "0000120500021", "00001205000x", "００００１２０５０００２"])
def test_a_check_digit_needs_a_twelve_digit_base(base: str) -> None:
    with pytest.raises(ValueError, match="12 digits"):
        check_digit(base)


# A good file --------------------------------------------------------------------------------------------


def test_a_good_file_gives_its_records() -> None:
    text = (
        "corporate_number,name,name_ja,prefecture,city,industries,employees,capital_jpy,founded,"
        "technologies,certifications,overseas_interest,consent,updated\n"
        f"{FIRST},Chubu Sensor Works,中部センサー工業,愛知県,Kariya,E;g,40,30000000,1972,"
        "sensors; MEMS,ISO 9001; IATF 16949,Europe; ASEAN,yes,2024-05-01\n"
        f"{SECOND},Sapporo Timber,札幌木材,hokkaido,,D,0,,,timber frames,,,no,\n"
    )
    result = read_registry_csv(text.splitlines(keepends=True))
    assert result.problems == []
    first, second = result.records
    assert first.corporate_number == FIRST
    assert (first.name, first.name_ja) == ("Chubu Sensor Works", "中部センサー工業")
    assert first.prefecture == "Aichi"
    assert first.city == "Kariya"
    assert first.industries == ["E", "G"]
    assert (first.employees, first.capital_jpy, first.founded) == (40, 30_000_000, 1972)
    assert first.technologies == "sensors; MEMS"
    assert first.certifications == ["ISO 9001", "IATF 16949"]
    assert first.overseas_interest == ["Europe", "ASEAN"]
    assert first.consent is True
    assert first.updated == datetime(2024, 5, 1, tzinfo=UTC)
    # Optional cells left empty take their defaults; `no` is no consent; an English name in any case is known.
    assert second.prefecture == "Hokkaido"
    assert (second.city, second.capital_jpy, second.founded) == ("", 0, None)
    assert (second.certifications, second.overseas_interest) == ([], [])
    assert second.employees == 0
    assert second.consent is False
    assert second.updated is None


def test_a_missing_updated_date_takes_the_import_time() -> None:
    (record,) = read_registry_csv([HEADER + "\n", row()]).records
    now = datetime(2025, 1, 2, 3, 4, tzinfo=UTC)
    assert record.as_row(now)["updated_at"] == now
    assert record.as_row(now)["id"] == FIRST


@pytest.mark.parametrize(
    ("word", "consent"), [("yes", True), ("Y", True), ("true", True), ("1", True), ("no", False), ("N", False),
                          ("FALSE", False), ("0", False)]
)
def test_consent_words(word: str, consent: bool) -> None:
    (record,) = read_registry_csv([HEADER + "\n", row(consent=word)]).records
    assert record.consent is consent


def test_header_names_are_read_without_case_or_spaces() -> None:
    header = " Corporate_Number,NAME,name_ja , Prefecture,industries,employees,technologies,consent\n"
    assert read(header, row()) == ([FIRST], [])


def test_a_file_with_crlf_line_ends_reads_the_same() -> None:
    assert read(HEADER + "\r\n", row().replace("\n", "\r\n"), row(SECOND).replace("\n", "\r\n")) == (
        [FIRST, SECOND],
        [],
    )


# Refusals: the right line and column ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "line", "column", "says"),
    [
        pytest.param([row(), row(FIRST[:-1] + str((int(FIRST[-1]) + 1) % 10))], 3, "corporate_number",
                     "is wrong (expected", id="bad check digit"),
        pytest.param([row(), row(SECOND, prefecture="Atlantis")], 3, "prefecture", "Atlantis", id="unknown prefecture"),
        pytest.param([row(), row(SECOND, industries="E;Z")], 3, "industries", "Z", id="bad JSIC letter"),
        pytest.param([row(), row(SECOND, employees="-1")], 3, "employees", "greater than or equal to 0",
                     id="negative employees"),
        pytest.param([row(), row(SECOND, employees="forty")], 3, "employees", "integer", id="employees not a number"),
        pytest.param([row(), row(SECOND, technologies="")], 3, "technologies", "at least 1", id="empty technologies"),
        pytest.param([row(), row(SECOND, consent="maybe")], 3, "consent", "yes/no", id="bad consent word"),
        pytest.param([row(), row(SECOND, name="")], 3, "name", "at least 1", id="empty name"),
        pytest.param([row(), row(SECOND, industries="")], 3, "industries", "at least 1", id="no industry"),
        pytest.param([row(), row(SECOND).replace(",yes\n", ",yes,extra\n")], 3, None, "has 9 cells, the header has 8",
                     id="a cell too many"),
        pytest.param([row(), row(SECOND).replace(",yes\n", "\n")], 3, None, "has 7 cells, the header has 8",
                     id="a cell too few"),
        pytest.param([row(), row(SECOND), row(FIRST, name="Chubu Sensor Works (again)")], 4, "corporate_number",
                     "already on line 2", id="the same corporate number twice"),
    ],
)
def test_a_bad_row_is_named_by_line_and_column(lines: list[str], line: int, column: str | None, says: str) -> None:
    records, problems = read(HEADER + "\n", *lines)
    assert [(p.line, p.column) for p in problems] == [(line, column)]
    assert says in problems[0].message
    assert records == []


def test_a_changed_digit_names_the_expected_check_digit_in_the_file() -> None:
    wrong = "8000012050002"
    _, problems = read(HEADER + "\n", row(wrong))
    assert problems == [RowProblem(2, "corporate_number", "check digit 8 is wrong (expected 7)")]


def test_every_bad_row_and_cell_is_reported_not_just_the_first() -> None:
    _, problems = read(
        HEADER + "\n",
        row(prefecture="Atlantis", consent="maybe"),
        row(SECOND),
        row(THIRD, employees="-5"),
    )
    assert [(p.line, p.column) for p in problems] == [(2, "prefecture"), (2, "consent"), (4, "employees")]


def test_one_bad_row_means_no_records_at_all() -> None:
    records, problems = read(HEADER + "\n", row(), row(SECOND), row(THIRD, prefecture="Atlantis"))
    assert records == []
    assert [(p.line, p.column) for p in problems] == [(4, "prefecture")]


def test_line_numbers_count_the_header_and_blank_lines() -> None:
    records, problems = read(HEADER + "\n", "\n", row(), "\n", "   \n", row(SECOND, industries="Z"), "\n")
    assert records == []
    assert [(p.line, p.column) for p in problems] == [(6, "industries")]
    # The same file, fixed, reads both rows and skips the blank lines.
    assert read(HEADER + "\n", "\n", row(), "\n", "   \n", row(SECOND), "\n") == ([FIRST, SECOND], [])


def test_a_duplicate_names_the_first_line_it_appeared_on() -> None:
    _, problems = read(HEADER + "\n", row(), "\n", row(SECOND), row(FIRST))
    assert problems == [RowProblem(5, "corporate_number", "already on line 2")]


def test_a_duplicate_is_told_even_when_its_first_row_has_other_problems() -> None:
    # One reading lists every problem: fixing line 2 must not reveal a new one on line 3.
    _, problems = read(HEADER + "\n", row(prefecture="Atlantis"), row(FIRST, employees="-1"))
    assert [(p.line, p.column) for p in problems] == [(2, "prefecture"), (3, "employees"), (3, "corporate_number")]
    assert problems[-1].message == "already on line 2"


# The header -----------------------------------------------------------------------------------------------


def test_an_unknown_column_is_a_problem_on_line_1() -> None:
    records, problems = read(HEADER + ",colour\n", row().replace("\n", ",red\n"))
    assert records == []
    assert problems == [RowProblem(1, "colour", "unknown column")]


def test_a_missing_required_column_is_a_problem_on_line_1() -> None:
    header = HEADER.replace(",technologies", "")
    records, problems = read(header + "\n", row().replace(",sensors", ""))
    assert records == []
    assert problems == [RowProblem(1, "technologies", "required column is missing")]


def test_a_duplicated_column_is_a_problem_on_line_1() -> None:
    records, problems = read(HEADER + ",name\n", row().replace("\n", ",Other Name\n"))
    assert records == []
    assert problems == [RowProblem(1, "name", "column appears twice")]


def test_a_header_of_strangers_names_every_problem() -> None:
    _, problems = read("colour,size\n", "red,large\n")
    assert all(p.line == 1 for p in problems)
    assert {p.column for p in problems} == {"colour", "size", *REQUIRED_COLUMNS}


def test_only_the_required_columns_are_required() -> None:
    assert set(REQUIRED_COLUMNS) < set(COLUMNS)
    assert read(HEADER + "\n", row()) == ([FIRST], [])


# Empty files ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "\n"], ids=["nothing", "a blank line"])
def test_an_empty_file_is_refused(text: str) -> None:
    result = read_registry_csv(text.splitlines(keepends=True))
    assert result.records == []
    assert len(result.problems) >= 1
    assert result.problems[0].line == 1


def test_a_file_with_no_lines_says_a_header_is_required() -> None:
    result = read_registry_csv([])
    assert result.problems == [RowProblem(1, None, "the file is empty: a header row is required")]


@pytest.mark.parametrize("rest", ["", "\n\n", ",,,,,,,\n"], ids=["header only", "blank lines", "empty cells"])
def test_a_header_with_no_rows_is_refused(rest: str) -> None:
    records, problems = read(HEADER + "\n", rest)
    assert records == []
    assert problems == [RowProblem(2, None, "the file has no rows after its header")]
