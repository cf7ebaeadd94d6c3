"""The rules every door applies to a field, in one place: each input model (filings, action payloads, registry
rows) and each command takes its field types from here, so a rule is written once and shows in the OpenAPI
schema (`pattern`, `minimum`/`maximum`, `maxLength`, `enum`) exactly as it is enforced. The checks behind the types
are kept beside: of text in `domain.text_rules`, of e-mail addresses in `domain.email_addresses`, and when the
rules apply in `domain.door`.

- One line of text (`line`): no control characters at all — C0 (CR, LF, TAB, NUL…), DEL, C1 — nor the Unicode
  line and paragraph separators (U+2028, U+2029): a name or a subject with a line break in it is how headers get
  injected into mail, and it breaks every one-line display.
- Several lines (`lines`): line feeds allowed (a CR LF or lone CR is taken as one), every other control character
  refused.
- A required text may not be blank: spaces and invisible characters (U+200B, the Hangul filler U+3164…) only
  (`not_blank`).
- Every text is kept in Unicode NFC (`as_typed`): `é` typed as one character or as `e` and a combining accent, or
  `ガ` as `カ` and a voiced mark (as some input methods and macOS file names send it), is stored the same, so the
  same words typed two ways compare equal and show the same. Nothing else is changed: widths and kana stay as
  typed (search folds those, `domain.folding`).
- Amounts of money (`Amount`): whole yen as a JSON integer — never a boolean, a float or a string — from 1 to
  10^12 (a trillion yen is far above any ticket of the scheme, and well inside what a JavaScript client holds
  exactly, 2^53).
- JSIC divisions: one letter A–T (`domain.geography.JSIC_DIVISIONS`); countries: ISO 3166-1 alpha-2
  (`domain.countries`); prefectures: as people write them (`domain.geography.prefecture_named`), stored by their
  English name.
- E-mail addresses (`EmailAddress`): RFC 5322 addresses as `email_validator` reads them; an internationalised
  domain in either form (U-label `例え.jp` or A-label `xn--r8jz45g.jp`) is kept as the same U-label address.
  Whether a non-ASCII local part may be accepted depends on the mail server (`SMTP_UTF8`): asked by
  `smtputf8_problem`, which every door that takes an address calls with the setting.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from email_validator import EmailNotValidError
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field

from domain.countries import COUNTRY_CODES
from domain.door import checking, door_rule
from domain.email_addresses import EMAIL_CACHED_CHARS, normalized_email
from domain.geography import JSIC_DIVISIONS, prefecture_named, prefecture_spellings
from domain.text_rules import (
    MULTI_LINE_PATTERN,
    NON_BLANK_LINE_PATTERN,
    NON_BLANK_LINES_PATTERN,
    ONE_LINE_PATTERN,
    as_typed,
    line_feeds,
    not_blank,
    one_line,
    several_lines,
)

MAX_AMOUNT_JPY = 10**12


def _line(max_length: int, *, required: bool) -> Any:
    """The constraints of a one-line text field (required: at least one non-space character)."""
    pattern = NON_BLANK_LINE_PATTERN if required else ONE_LINE_PATTERN
    return Field(min_length=1 if required else 0, max_length=max_length, json_schema_extra={"pattern": pattern})


def _lines(max_length: int, *, required: bool) -> Any:
    """The constraints of a multi-line text field (notes, descriptions)."""
    pattern = NON_BLANK_LINES_PATTERN if required else MULTI_LINE_PATTERN
    return Field(min_length=1 if required else 0, max_length=max_length, json_schema_extra={"pattern": pattern})


AsTyped = AfterValidator(door_rule(as_typed))
OneLine = (AsTyped, AfterValidator(door_rule(one_line)))
SeveralLines = (AfterValidator(line_feeds), AsTyped, AfterValidator(door_rule(several_lines)))
NotBlank = AfterValidator(door_rule(not_blank))


def within(max_length: int) -> AfterValidator:
    """The length limit held again after NFC (`as_typed`): a few characters compose into more (U+FB2C is three),
    and the text is kept as it is after that."""

    def check(value: str) -> str:
        if len(value) > max_length:
            raise ValueError(f"at most {max_length} characters in Unicode NFC, as it is kept ({len(value)})")
        return value

    return AfterValidator(door_rule(check))


Name = Annotated[str, _line(200, required=True), *OneLine, within(200), NotBlank]
"""A name, a title, a technology: one line, 1–200 characters, not blank."""
Tag = Annotated[str, _line(100, required=True), *OneLine, within(100), NotBlank]
"""A short label (a certification, a market): one line, 1–100 characters, not blank."""
Code = Annotated[str, _line(64, required=True), *OneLine, within(64), NotBlank]
"""An organisation's code: one line, 1–64 characters."""
SmeKey = Annotated[str, _line(13, required=True), *OneLine, within(13), NotBlank]
"""The key of an SME in the registry (its corporate number): one line, 1–13 characters."""
OptionalPlace = Annotated[str, _line(100, required=False), *OneLine, within(100)]
"""A city or town, possibly empty: one line, at most 100 characters."""
LongLine = Annotated[str, _line(2000, required=True), *OneLine, within(2000), NotBlank]
"""One long line (a registry's list of technologies): 1–2000 characters."""
Text = Annotated[str, _lines(5000, required=True), *SeveralLines, within(5000), NotBlank]
"""What a person writes (a reason, an answer, a description): lines, 1–5000 characters, not blank."""
OptionalText = Annotated[str, _lines(5000, required=False), *SeveralLines, within(5000)]
"""An optional note: lines, at most 5000 characters."""


def _whole_number(low: int, high: int) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"must be a JSON integer from {low} to {high} (not {type(value).__name__})")
        if not low <= value <= high:
            raise ValueError(f"must be from {low} to {high}")
        return value

    return check


def whole_number(low: int, high: int, description: str | None = None) -> tuple[Any, Any]:
    """The rule of a JSON integer from `low` to `high` — never a boolean, a float or a string — checked at the door
    (`door_rule`) and stated in the schema; `Annotated[int, *whole_number(…)]`."""
    return (
        BeforeValidator(door_rule(_whole_number(low, high))),
        Field(description=description, json_schema_extra={"minimum": low, "maximum": high}),
    )


def at_least(low: int) -> Any:
    """A bound every stored value already kept (before the door's rules), so it applies everywhere."""

    def check(value: int) -> int:
        if value < low:
            raise ValueError(f"must be at least {low}")
        return value

    return AfterValidator(check)


_AMOUNT = whole_number(1, MAX_AMOUNT_JPY, "Whole yen, a JSON integer from 1 to 10^12.")
Amount = Annotated[int, _AMOUNT[0], _AMOUNT[1]]
"""An amount of money in JPY (stored ones from before the door's rules may be 0 or larger: `at_least`)."""
MAX_EMPLOYEES = 1_000_000
_EMPLOYEES, _SOME_EMPLOYEES = whole_number(0, MAX_EMPLOYEES), whole_number(1, MAX_EMPLOYEES)
_LIMIT = whole_number(1, 100)
Employees = Annotated[int, _EMPLOYEES[0], _EMPLOYEES[1], at_least(0)]
"""A number of employees (0 to a million)."""
SomeEmployees = Annotated[int, _SOME_EMPLOYEES[0], _SOME_EMPLOYEES[1], at_least(1)]
"""A number of employees above 0 (the top of a size range)."""
Limit = Annotated[int, _LIMIT[0], _LIMIT[1]]
"""How many candidates to propose (1 to 100)."""


def _jsic_division(value: str) -> str:
    if value not in JSIC_DIVISIONS:
        raise ValueError(f"{value!r} is not a JSIC division: one capital letter from A to T")
    return value


JsicDivision = Annotated[
    str, AfterValidator(door_rule(_jsic_division)), Field(json_schema_extra={"enum": list(JSIC_DIVISIONS)})
]


def _country(value: str) -> str:
    if value not in COUNTRY_CODES:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code (two capital letters, e.g. DE, US, JP)")
    return value


CountryCode = Annotated[
    str, AfterValidator(door_rule(_country)),
    Field(description="ISO 3166-1 alpha-2", json_schema_extra={"enum": sorted(COUNTRY_CODES)}),
]


def _prefecture(value: Any) -> Any:
    if not isinstance(value, str):
        return value  # the str type refuses it
    if checking():
        one_line(value)
    found = prefecture_named(value)
    if found is None and not checking():
        return value  # stored before prefectures were checked: kept as it was
    if found is None:
        raise ValueError(f"{value!r} is not a prefecture of Japan; write it {prefecture_spellings()}")
    return found.name


PrefectureName = Annotated[
    str,
    BeforeValidator(_prefecture),
    Field(
        json_schema_extra={"pattern": NON_BLANK_LINE_PATTERN, "maxLength": 40},
        description="One of the 47 prefectures, as people write it (stored by its English name): "
        + prefecture_spellings(),
        examples=["Aichi", "Tokyo-to", "Hyōgo", "大阪府", "東京", "13"],
    ),
]


def _email(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    one_line(value)
    try:  # only what could be an address is cached: a longer value is refused uncached, and never kept
        return normalized_email(value) if len(value) <= EMAIL_CACHED_CHARS else normalized_email.__wrapped__(value)
    except EmailNotValidError as error:
        raise ValueError(f"not an e-mail address: {error}") from None


EmailAddress = Annotated[
    str,
    BeforeValidator(_email),
    Field(
        max_length=254,
        description="An e-mail address; an internationalised domain may be written as its U-label or its "
        "punycode A-label (both are kept as the U-label). A non-ASCII local part only when the mail server "
        "takes SMTPUTF8 (setting `SMTP_UTF8`).",
        json_schema_extra={"format": "email"},
    ),
]



def in_utc_range(value: datetime) -> datetime:
    """A time with its offset that also exists in UTC (0001-01-01T00:00:00+14:00 does not: it is in year 0), so
    storing or comparing it cannot overflow; naive times pass as they are (their rules are the caller's)."""
    if value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError("a time between 0001-01-02 and 9999-12-30 (its UTC time must exist)") from None
    return value


UtcRepresentable = AfterValidator(in_utc_range)
"""`in_utc_range` as a field's rule."""
Moment = Annotated[AwareDatetime, UtcRepresentable]
"""A time that comes in: with its offset, and existing in UTC (so storing or comparing it cannot overflow)."""
