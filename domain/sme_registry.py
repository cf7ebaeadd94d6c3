"""One SME of the registry as an import states it, and the reading of a registry CSV into such records.

Reading is all-or-nothing by design: `read_registry_csv` returns either every record or every problem
(line, column, why), so an import never half-applies a file an officer must then repair by hand.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationError, field_validator

from domain.base_models import Input
from domain.corporate_number import corporate_number_problem
from domain.door import at_the_door
from domain.fields import LongLine, Moment, Name, OptionalPlace, PrefectureName, Tag
from domain.folding import digits, number_text
from domain.geography import JSIC_DIVISIONS

LIST_SEPARATOR = ";"
REQUIRED_COLUMNS = (
    "corporate_number",
    "name",
    "name_ja",
    "prefecture",
    "industries",
    "employees",
    "technologies",
    "consent",
)
OPTIONAL_COLUMNS = ("city", "capital_jpy", "founded", "certifications", "overseas_interest", "updated")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


def _split(value: Any) -> Any:
    """A list column holds its items separated by semicolons."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(LIST_SEPARATOR) if item.strip()]
    return value


TagList = Annotated[list[Tag], BeforeValidator(_split), Field(max_length=20)]


class SmeRecord(Input):
    """An SME as the registry keeps it, keyed by its corporate number."""

    corporate_number: str
    name: Name
    name_ja: Name
    prefecture: PrefectureName
    city: OptionalPlace = ""
    industries: Annotated[list[str], BeforeValidator(_split), Field(min_length=1, max_length=5)]
    employees: int = Field(ge=0, le=1_000_000)
    capital_jpy: int = Field(0, ge=0, le=10**15)
    founded: int | None = Field(None, ge=1600, le=2100)
    technologies: LongLine
    certifications: TagList = []
    overseas_interest: TagList = []
    consent: bool
    updated: Moment | None = None

    @field_validator("corporate_number")
    @classmethod
    def valid_corporate_number(cls, value: str) -> str:
        """13 digits, typed as people type them (full-width, grouped with hyphens or spaces)."""
        number = digits(value)
        if (problem := corporate_number_problem(number)) is not None:
            raise ValueError(problem)
        return number

    @field_validator("industries")
    @classmethod
    def jsic_divisions(cls, value: list[str]) -> list[str]:
        divisions = [unicodedata.normalize("NFKC", item).upper() for item in value]
        unknown = [item for item in divisions if item not in JSIC_DIVISIONS]
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: not a JSIC division letter (A–T)")
        return sorted(set(divisions))

    @field_validator("employees", "capital_jpy", "founded", mode="before")
    @classmethod
    def number_as_typed(cls, value: Any) -> Any:
        """Full-width digits and thousands separators (`１２０`, `90,000,000`) read as the number they write."""
        return number_text(value) if isinstance(value, str) else value

    @field_validator("consent", mode="before")
    @classmethod
    def yes_or_no(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.strip().lower() in _TRUE:
                return True
            if value.strip().lower() in _FALSE:
                return False
            raise ValueError("consent is true or false (yes/no, 1/0)")
        return value

    @field_validator("updated", mode="before")
    @classmethod
    def date_or_time(cls, value: Any) -> Any:
        """A bare date means midnight UTC of that day."""
        if isinstance(value, str) and len(value.strip()) == 10:
            try:
                return datetime.combine(date.fromisoformat(value.strip()), time(), UTC)
            except ValueError:
                return value
        return value

    def as_row(self, now: datetime) -> dict[str, Any]:
        """The registry's row for this record (`now` stands in for a missing `updated`)."""
        return {
            "id": self.corporate_number,
            "name": self.name,
            "name_ja": self.name_ja,
            "prefecture": self.prefecture,
            "city": self.city,
            "industries": self.industries,
            "employees": self.employees,
            "capital_jpy": self.capital_jpy,
            "founded": self.founded,
            "technologies": self.technologies,
            "certifications": self.certifications,
            "overseas_interest": self.overseas_interest,
            "consent": self.consent,
            "updated_at": self.updated or now,
        }


@dataclass(frozen=True)
class RowProblem:
    """Why one cell (or the header, line 1) of an import cannot be taken."""

    line: int
    column: str | None
    message: str


@dataclass(frozen=True)
class RegistryFile:
    records: list[SmeRecord]
    problems: list[RowProblem]


def _header_problems(header: list[str]) -> list[RowProblem]:
    problems = [RowProblem(1, name, "unknown column") for name in header if name not in COLUMNS]
    problems += [RowProblem(1, name, "required column is missing") for name in REQUIRED_COLUMNS if name not in header]
    seen: set[str] = set()
    for name in header:
        if name in seen:
            problems.append(RowProblem(1, name, "column appears twice"))
        seen.add(name)
    return problems


def _cell_problems(line: int, error: ValidationError) -> list[RowProblem]:
    problems = []
    for detail in error.errors():
        column = str(detail["loc"][0]) if detail["loc"] else None
        message = str(detail["msg"]).removeprefix("Value error, ")
        problems.append(RowProblem(line, column, message))
    return problems


def read_registry_csv(lines: Iterable[str], max_problems: int = 1000) -> RegistryFile:
    """Every record of a registry CSV (header row first), or every problem in it (up to `max_problems`)."""
    reader = csv.reader(lines, strict=True)
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        return RegistryFile([], [RowProblem(1, None, "the file is empty: a header row is required")])
    except csv.Error as error:
        return RegistryFile([], [RowProblem(1, None, f"not CSV: {error}")])
    problems = _header_problems(header)
    if problems:
        return RegistryFile([], problems)
    records: list[SmeRecord] = []
    first_line: dict[str, int] = {}
    while len(problems) < max_problems:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            problems.append(RowProblem(reader.line_num, None, f"not CSV: {error}"))
            break
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(RowProblem(line, None, f"has {len(row)} cells, the header has {len(header)}"))
            continue
        cells = {
            name: cell.strip()
            for name, cell in zip(header, row, strict=True)
            if cell.strip() or name in REQUIRED_COLUMNS
        }
        # A repeated number is told even when either row has other problems, so one reading lists them all.
        number = digits(cells["corporate_number"])
        earlier = first_line.setdefault(number, line) if corporate_number_problem(number) is None else line
        try:
            with at_the_door():  # a registry file is always input: every rule applies
                record = SmeRecord.model_validate(cells)
        except ValidationError as error:
            problems += _cell_problems(line, error)
            record = None
        if earlier != line:
            problems.append(RowProblem(line, "corporate_number", f"already on line {earlier}"))
        elif record is not None:
            records.append(record)
    if not records and not problems:
        problems.append(RowProblem(2, None, "the file has no rows after its header"))
    return RegistryFile([] if problems else records, problems[:max_problems])
