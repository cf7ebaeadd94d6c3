"""The National Tax Agency's corporate-number publication files (法人番号公表サイト, 基本3情報ダウンロード), read.

The NTA publishes every corporate number with its name and head-office address: a full file per prefecture each
month (the latest record of every number, closed ones included) and a daily difference file for the whole
country (new numbers, changed names and addresses, closures; a number changed twice that day has two rows).
Both are CSV without a header, in two editions: Unicode (UTF-8, JIS levels 1–4) and Shift_JIS (JIS levels 1–2).
Every row has the 30 columns of the NTA's resource definition (リソース定義書, version 3.0 and later), in
`COLUMNS` order; dates are `YYYY-MM-DD`, codes are the NTA's (`PROCESSES`, `KINDS`, `CLOSE_CAUSES`).

`read_publication` turns rows into `Publication`s, refusing the whole file at its first bad cell with a
`PublicationError` naming the line and the column: a half-read publication would leave the registry mixing
two days. Only what the registry keeps is taken (name, furigana, English name, prefecture, city, closure);
street addresses, image ids and post codes are checked for nothing and kept nowhere.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from domain.corporate_number import corporate_number_problem
from domain.geography import prefecture_named
from domain.registry_file import CP932, ENCODINGS, NAMES, UTF8

COLUMNS = (
    "sequenceNumber", "corporateNumber", "process", "correct", "updateDate", "changeDate", "name", "nameImageId",
    "kind", "prefectureName", "cityName", "streetNumber", "addressImageId", "prefectureCode", "cityCode",
    "postCode", "addressOutside", "addressOutsideImageId", "closeDate", "closeCause", "successorCorporateNumber",
    "changeCause", "assignmentDate", "latest", "enName", "enPrefectureName", "enCityName", "enAddressOutside",
    "furigana", "hihyoji",
)
"""The columns of a row, in order, named as the NTA's resource definition names them."""
_AT = {name: index for index, name in enumerate(COLUMNS)}

PROCESSES = {
    "01": "new", "11": "name changed", "12": "address in Japan changed", "13": "address abroad changed",
    "21": "registry record closed", "22": "registry record restored", "71": "merged into another",
    "72": "merger annulled", "81": "trade-name registration struck off", "99": "deleted",
}
"""処理区分: what happened to the number in this row."""
DELETED = "99"
KINDS = {
    "101": "national body", "201": "local government", "301": "kabushiki kaisha", "302": "yugen kaisha",
    "303": "gomei kaisha", "304": "goshi kaisha", "305": "godo kaisha", "399": "other registered corporation",
    "401": "foreign company", "499": "other",
}
"""法人種別: the kind of body."""
COMPANY_KINDS = frozenset({"301", "302", "303", "304", "305"})
"""The kinds of company an SME can be (株式会社, 有限会社, 合名会社, 合資会社, 合同会社)."""
CLOSE_CAUSES = {
    "01": "liquidation completed", "11": "dissolved by merger", "21": "closed by the registrar",
    "31": "other closing",
}
"""登記記録の閉鎖等の事由."""
_FLAGS = ("0", "1")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class PublicationError(ValueError):
    """A publication file that cannot be applied: the first problem, at `line` (1-based; 0 for the file as a
    whole) and `column` (a name of `COLUMNS`, or None for the whole line). Its text is the one line a person
    reads."""

    def __init__(self, line: int, column: str | None, message: str) -> None:
        where = f"line {line}" + (f", column {_AT[column] + 1} ({column})" if column else "")
        super().__init__(f"{where}: {message}" if line else message)
        self.line = line
        self.column = column
        self.message = message


@dataclass(frozen=True, slots=True)
class Publication:
    """One row of a publication, as the registry takes it.

    `prefecture` is the English name the registry stores (None for a head office abroad); `city` the city,
    ward, town or village as published (`cityName`, e.g. 刈谷市); `closed_on` and `close_cause` (a code of
    `CLOSE_CAUSES`) are set for a closed, merged or deleted number and None for a live one."""

    line: int
    sequence: int
    corporate_number: str
    process: str
    updated: date
    name_ja: str
    name_en: str | None
    furigana: str
    kind: str
    prefecture: str | None
    city: str
    closed_on: date | None
    close_cause: str | None
    successor: str | None

    @property
    def is_company(self) -> bool:
        return self.kind in COMPANY_KINDS


def _date(line: int, column: str, text: str) -> date:
    try:
        if _DATE.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise PublicationError(line, column, f"{text!r} is not a date written YYYY-MM-DD")


def _code(line: int, column: str, text: str, codes: dict[str, str] | tuple[str, ...]) -> str:
    if text not in codes:
        accepted = ", ".join(codes)
        raise PublicationError(line, column, f"{text!r} is not one of the codes the NTA defines ({accepted})")
    return text


def _number(line: int, column: str, text: str) -> str:
    if (problem := corporate_number_problem(text)) is not None:
        raise PublicationError(line, column, f"{text!r}: {problem}")
    return text


def publication_of(line: int, cells: list[str]) -> Publication:
    """The row on `line` read, or PublicationError at its first bad cell."""
    if len(cells) != len(COLUMNS):
        raise PublicationError(
            line, None, f"has {len(cells)} cells; a corporate-number publication row has {len(COLUMNS)}"
        )
    cell = dict(zip(COLUMNS, (c.strip() for c in cells), strict=True))
    if not cell["sequenceNumber"].isascii() or not cell["sequenceNumber"].isdigit():
        raise PublicationError(line, "sequenceNumber", f"{cell['sequenceNumber']!r} is not a number")
    number = _number(line, "corporateNumber", cell["corporateNumber"])
    process = _code(line, "process", cell["process"], PROCESSES)
    _code(line, "correct", cell["correct"], _FLAGS)
    updated = _date(line, "updateDate", cell["updateDate"])
    changed = _date(line, "changeDate", cell["changeDate"])
    if not cell["name"]:
        raise PublicationError(line, "name", "is empty: every published number has a name")
    kind = _code(line, "kind", cell["kind"], KINDS)
    prefecture = None
    if cell["prefectureName"]:
        found = prefecture_named(cell["prefectureName"])
        if found is None:
            raise PublicationError(line, "prefectureName", f"{cell['prefectureName']!r} is not a prefecture")
        if cell["prefectureCode"] and cell["prefectureCode"] != f"{found.code:02d}":
            raise PublicationError(line, "prefectureCode", f"{cell['prefectureCode']!r} is not {found.name_ja}'s "
                                   f"code ({found.code:02d})")
        prefecture = found.name
    elif not cell["addressOutside"]:
        raise PublicationError(line, "prefectureName", "is empty, and so is addressOutside: no address at all")
    closed_on = _date(line, "closeDate", cell["closeDate"]) if cell["closeDate"] else None
    close_cause = _code(line, "closeCause", cell["closeCause"], CLOSE_CAUSES) if cell["closeCause"] else None
    if process == DELETED and closed_on is None:
        closed_on = changed  # a deleted number has no closing date of its own: it ends on the day it was deleted
    successor = cell["successorCorporateNumber"]
    _code(line, "latest", cell["latest"], _FLAGS)
    _code(line, "hihyoji", cell["hihyoji"], _FLAGS)
    return Publication(
        line=line, sequence=int(cell["sequenceNumber"]), corporate_number=number, process=process,
        updated=updated, name_ja=cell["name"], name_en=cell["enName"] or None, furigana=cell["furigana"],
        kind=kind, prefecture=prefecture, city=cell["cityName"], closed_on=closed_on, close_cause=close_cause,
        successor=_number(line, "successorCorporateNumber", successor) if successor else None,
    )


def decoded_lines(lines: Iterable[bytes], declared: str | None = None) -> Iterator[str]:
    """Each line of a publication as text: in the `declared` encoding (a name `registry_file.ENCODINGS` knows),
    else UTF-8 (the Unicode edition) or, from the first line that is not UTF-8, Shift_JIS (CP932). A line in
    neither is PublicationError naming it."""
    encoding = None
    if declared is not None:
        encoding = ENCODINGS.get(declared.strip().lower())
        if encoding is None:
            raise PublicationError(0, None, f"the encoding {declared!r} is not one the NTA publishes: UTF-8 "
                                   "(the Unicode edition) or Shift_JIS")
    for number, raw in enumerate(lines, start=1):
        if encoding is None and not raw.isascii():
            try:
                raw.decode(UTF8)
                encoding = UTF8
            except UnicodeDecodeError:
                encoding = CP932
        try:
            text = raw.decode(encoding or UTF8)
        except UnicodeDecodeError as error:
            raise PublicationError(number, None, f"is not {NAMES[encoding or UTF8]} text (byte "
                                   f"0x{raw[error.start]:02X}); the NTA publishes UTF-8 and Shift_JIS") from None
        if "\x00" in text:
            raise PublicationError(number, None, "contains the NUL character: not CSV text")
        yield text


def read_publication(lines: Iterable[str]) -> Iterator[Publication]:
    """Each row of a publication's text lines, read; PublicationError at the first bad one (a file without a
    single row is one too)."""
    reader = csv.reader(lines, strict=True)
    rows = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            raise PublicationError(reader.line_num, None, f"not CSV: {error}") from None
        if not any(cell.strip() for cell in cells):
            continue
        if rows == 0 and cells[0].strip() in (COLUMNS[0], "一連番号"):
            raise PublicationError(reader.line_num, None, "is a header row: publication files have none "
                                   "(is this the registry's own CSV? that is `alliance smes import`)")
        rows += 1
        yield publication_of(reader.line_num, cells)
    if rows == 0:
        raise PublicationError(1, None, "the file has no rows")

