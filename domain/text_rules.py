"""The rules of text at the door, as checks and as the JSON-schema patterns that state them.

One line holds no control character (C0, DEL, C1) nor a Unicode line or paragraph separator; several lines may
hold line feeds (a CR LF or lone CR is taken as one) but no other control character; a required text holds a
character somebody sees; every text is kept in Unicode NFC. `domain.fields` builds its text field types from
these.
"""

from __future__ import annotations

import re
import unicodedata

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
