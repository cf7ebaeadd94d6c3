"""Text cut to a number of UTF-8 bytes, saying how much was cut; and the text of any value, never failing.

What was cut says so: `…[cut 123456 bytes]` (bytes of UTF-8 not written). A log line must be written whatever
is logged, so `safe_str` and `safe_repr` answer a note where a value's own `__str__` or `__repr__` fails.
"""

from __future__ import annotations

_MARKER_RESERVE = len("…[cut 18446744073709551615 bytes]…".encode())


def utf8_size(text: str) -> int:
    """Bytes of `text` in UTF-8 (lone surrogates count as 3), without encoding ASCII text."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _head(text: str, limit: int) -> str:
    """A prefix of `text` of at most `limit` UTF-8 bytes (looking at no more than `limit` characters)."""
    k = min(len(text), limit)
    while k > 0:
        size = utf8_size(text[:k])
        if size <= limit:
            return text[:k]
        k = min(k - 1, k * limit // size)
    return ""


def _tail(text: str, limit: int) -> str:
    k = min(len(text), limit)
    while k > 0:
        size = utf8_size(text[-k:])
        if size <= limit:
            return text[-k:]
        k = min(k - 1, k * limit // size)
    return ""


def cut(text: str, limit: int, *, keep_end: bool = False, total: int | None = None) -> str:
    """`text` if it fits in `limit` UTF-8 bytes; else its start (or start and end) with `…[cut N bytes]`.

    `keep_end` keeps the last two thirds and the first third, cutting from the middle (a traceback's
    innermost frames and message are at its end). The result exceeds `limit` bytes only when `limit` is too
small for the marker itself (under 42 bytes). `total`, when
    known, is `utf8_size(text)` (which costs a pass over text that is not ASCII).
    """
    if len(text) <= limit // 4 or (len(text) <= limit and text.isascii()):
        return text
    if total is None:
        total = utf8_size(text)
    if total <= limit:
        return text
    room = max(0, limit - _MARKER_RESERVE)
    if keep_end:
        head, tail = _head(text, room // 3), _tail(text, room - room // 3)
        return f"{head}…[cut {total - utf8_size(head) - utf8_size(tail)} bytes]…{tail}"
    head = _head(text, room)
    return f"{head}…[cut {total - utf8_size(head)} bytes]"


def safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception as error:  # a __str__ that fails (or recurses) must not fail the log line
        return f"<str() failed: {type(error).__name__}>"


def safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception as error:
        return f"<{type(value).__name__}; repr() failed: {type(error).__name__}>"
