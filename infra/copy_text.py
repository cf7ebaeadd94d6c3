"""Registry rows as the text of PostgreSQL's COPY (tab-separated, `\\N` for NULL), written in plain Python.

asyncpg's `copy_records_to_table` encodes each field of each row in its binary format through a type check and
a codec call: about 17 µs a row of `STORED_COLUMNS`, most of a seed's Python time after the generator itself.
Here each column has one encoder chosen once, strings are escaped only when they hold one of the four
characters COPY reserves, and an array's text is kept per distinct value (a registry has few distinct lists of
industries, certifications and markets): a row is one `join`.

The text is what PostgreSQL's `COPY … FROM STDIN` (format text) reads; the stored values are the same as
through the binary format (`tests/integration/test_seeding.py` reads them back).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

NULL = "\\N"
_RESERVED = re.compile(r"[\\\t\n\r]")
_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_ARRAY_QUOTED = re.compile(r'[{}",\\\s]|^$|^NULL$', re.IGNORECASE)

Encoder = Callable[[Any], str]


def text_field(value: str) -> str:
    """A string as a COPY field: backslash, tab, newline and carriage return escaped."""
    if _RESERVED.search(value) is None:
        return value
    return _RESERVED.sub(lambda found: _ESCAPES[found.group()], value)


def _array_element(value: str) -> str:
    if _ARRAY_QUOTED.search(value) is None:
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _array_encoder() -> Encoder:
    """A `text[]` field's encoder, remembering the text of each distinct list it has seen."""
    known: dict[tuple[str, ...], str] = {}

    def encode(values: Sequence[str]) -> str:
        key = tuple(values)
        found = known.get(key)
        if found is None:
            found = known[key] = text_field("{" + ",".join(_array_element(v) for v in key) + "}")
        return found

    return encode


def _optional(encode: Encoder) -> Encoder:
    return lambda value: NULL if value is None else encode(value)


def _number(value: int) -> str:
    return str(value)


def _boolean(value: bool) -> str:
    return "t" if value else "f"


def _moment(value: datetime) -> str:
    """A timezone-aware time (a naive one would be read in the server's time zone: refused)."""
    if value.utcoffset() is None:
        raise ValueError(f"a time without a time zone cannot be stored: {value!r}")
    return value.isoformat()


ENCODERS: dict[str, Callable[[], Encoder]] = {
    "text": lambda: _optional(text_field),
    "text[]": _array_encoder,
    "int": lambda: _optional(_number),
    "bool": lambda: _optional(_boolean),
    "timestamptz": lambda: _optional(_moment),
}
"""Per PostgreSQL type (as `copy_writer` is told it), a maker of a fresh encoder (arrays keep a memory each)."""


def copy_writer(types: Sequence[str]) -> Callable[[Iterable[tuple[Any, ...]]], str]:
    """A writer of records (tuples of values of `types`, one per column) as COPY text, a line each, newline
    included; it remembers array texts from one call to the next."""
    encoders = [ENCODERS[kind]() for kind in types]

    def write(records: Iterable[tuple[Any, ...]]) -> str:
        return "".join(
            ["\t".join([encode(value) for encode, value in zip(encoders, record, strict=True)]) + "\n"
             for record in records]
        )

    return write
