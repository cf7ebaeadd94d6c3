"""The rules every door applies to a field, in one place: each input model (filings, action payloads, registry
rows) and each command takes its field types from here, so a rule is written once and shows in the OpenAPI
schema (`pattern`, `minimum`/`maximum`, `maxLength`, `enum`) exactly as it is enforced.

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

import functools
import re
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field

from domain.countries import COUNTRY_CODES
from domain.geography import JSIC_DIVISIONS, prefecture_named, prefecture_spellings

# What one line may not hold, and what several lines may not (the same, less the line feed).
_LINE_BREAKS = "\u2028\u2029"
_CONTROL = "\x00-\x09\x0b-\x1f\x7f-\x9f"
ONE_LINE = re.compile(f"[{_CONTROL}\n{_LINE_BREAKS}]")
MULTI_LINE = re.compile(f"[{_CONTROL}]")
# The same as JSON-schema patterns (ECMA 262), for the OpenAPI document.
_SCHEMA_CONTROL = r"\u0000-\u0009\u000b-\u001f\u007f-\u009f"
_SCHEMA_BREAKS = _SCHEMA_CONTROL + r"\u000a\u2028\u2029"
ONE_LINE_PATTERN = rf"^[^{_SCHEMA_BREAKS}]*$"
MULTI_LINE_PATTERN = rf"^[^{_SCHEMA_CONTROL}]*$"


_IGNORABLE = frozenset((0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, *range(0x180B, 0x1810), 0x2800, 0x3164,
                        *range(0xFE00, 0xFE10), 0xFFA0, *range(0xFFF0, 0xFFF9)))
"""Default_Ignorable_Code_Point characters of the BMP that are neither white space nor format characters (Unicode's
DerivedCoreProperties.txt; the Hangul fillers are the usual way to an "invisible" name), and the braille blank."""


def _invisible_class() -> str:
    """The characters nobody sees, as the inside of a character class of `\\uXXXX` escapes and ranges (read alike
    by Python's `re` and by ECMA 262, the JSON Schema's dialect, with or without its `u` flag): every white space
    (`str.isspace`) and every format character (Unicode category Cf: U+200B zero-width space, U+2060 word joiner,
    U+FEFF, the bidirectional marks…) of the Basic Multilingual Plane, and its other default-ignorable or blank
    characters (`_IGNORABLE`: the Hangul fillers U+3164, U+115F, U+1160, U+FFA0, the variation selectors, the
    combining grapheme joiner U+034F, the braille blank U+2800…), which render as nothing or a gap. The few
    characters beyond the plane (tags, musical formatting) are not in it: a pattern of the JSON Schema cannot
    name them in both dialects."""
    invisible = [c for c in range(0x10000)
                 if chr(c).isspace() or unicodedata.category(chr(c)) == "Cf" or c in _IGNORABLE]
    ranges: list[tuple[int, int]] = []
    for code in invisible:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    return "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)


_SCHEMA_INVISIBLE = _invisible_class()
VISIBLE = re.compile(f"[^{_SCHEMA_INVISIBLE}]")
"""One character somebody sees (`_invisible_class`): a required text holds at least one."""
NON_BLANK_LINE_PATTERN = rf"^[^{_SCHEMA_BREAKS}]*[^{_SCHEMA_INVISIBLE}{_SCHEMA_BREAKS}][^{_SCHEMA_BREAKS}]*$"
NON_BLANK_LINES_PATTERN = rf"^[^{_SCHEMA_CONTROL}]*[^{_SCHEMA_INVISIBLE}{_SCHEMA_CONTROL}][^{_SCHEMA_CONTROL}]*$"

MAX_AMOUNT_JPY = 10**12

_AT_THE_DOOR: ContextVar[bool] = ContextVar("at_the_door", default=False)
T = TypeVar("T")


@contextmanager
def at_the_door() -> Iterator[None]:
    """Validate what comes in by every rule here (the API does for each request, the commands for their input).

    Outside it — a workflow replaying its history, an activity, a service reading a stored case back — models
    keep what was accepted when it was stored (canonical forms still apply): a rule added later never makes a
    stored case unreadable or a workflow history unreplayable.
    """
    token = _AT_THE_DOOR.set(True)
    try:
        yield
    finally:
        _AT_THE_DOOR.reset(token)


@contextmanager
def as_stored() -> Iterator[None]:
    """Read back what was stored (inside a request too): only what the models always asked of it is asked."""
    token = _AT_THE_DOOR.set(False)
    try:
        yield
    finally:
        _AT_THE_DOOR.reset(token)


def checking() -> bool:
    """Whether what is being validated has just come in (`at_the_door`), so every rule applies."""
    return _AT_THE_DOOR.get()


def door_rule(check: Callable[[T], T]) -> Callable[[T], T]:
    """`check`, applied at the door only (`at_the_door`); elsewhere the value passes as it is."""

    def applied(value: T) -> T:
        return check(value) if checking() else value

    applied.__doc__ = check.__doc__
    return applied


def _codepoint(character: str) -> str:
    return f"U+{ord(character):04X}"


def _refuse_control(value: str, refused: re.Pattern[str], rule: str) -> str:
    if (found := refused.search(value)) is not None:
        raise ValueError(f"{rule} (found {_codepoint(found.group())} at character {found.start() + 1})")
    return value


def one_line(value: str) -> str:
    """`value` if it is one line without control characters; otherwise ValueError naming the first one."""
    return _refuse_control(value, ONE_LINE, "must be one line of text without control characters")


def line_feeds(value: str) -> str:
    """Line breaks as line feeds: a CR LF (as browsers send a textarea) or a lone CR is one `\\n`."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


def several_lines(value: str) -> str:
    """`value` with its line breaks as line feeds, if it holds no other control character; else ValueError."""
    return _refuse_control(line_feeds(value), MULTI_LINE, "may hold line breaks but no other control characters")


def as_typed(value: str) -> str:
    """`value` in Unicode NFC: the words as typed, composed one way (no width or kana folding)."""
    return unicodedata.normalize("NFC", value)


def not_blank(value: str) -> str:
    """`value` if somebody can see something of it (`VISIBLE`): not only spaces and invisible format characters
    such as a zero-width space (U+200B), a word joiner (U+2060) or a byte-order mark (U+FEFF); else ValueError."""
    if VISIBLE.search(value) is None:
        raise ValueError("may not be blank (spaces and invisible characters only)")
    return value


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


EMAIL_CACHED_CHARS = 320


@functools.lru_cache(maxsize=4096)
def normalized_email(value: str) -> str:
    """The address as `email_validator` normalises it (no DNS); raises `EmailNotValidError`. Cached (issue 15):
    the same few addresses are validated each time a case is read back, 70 µs apiece."""
    return validate_email(value, check_deliverability=False, allow_smtputf8=True).normalized


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


def address_key(address: str) -> str:
    """What an address is compared by: its domain as the ASCII A-label (`例え.jp` and `xn--r8jz45g.jp` are one
    domain), the whole without case. Something that is no address is compared as typed, without case."""
    try:
        found = validate_email(address.strip(), check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError:
        return address.strip().casefold()
    return f"{found.local_part}@{found.ascii_domain}".casefold()


def smtputf8_problem(address: str, smtp_utf8: bool) -> str | None:
    """Why `address` cannot be accepted by a desk whose mail server does (`smtp_utf8`) or does not take
    SMTPUTF8: a local part (before the @) with non-ASCII letters needs it. None when it can be."""
    local = address.rpartition("@")[0]
    if smtp_utf8 or local.isascii():
        return None
    return (
        f"the part before the @ ({local!r}) must be ASCII: the mail server does not take international "
        "addresses (SMTPUTF8); give an ASCII address"
    )


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
