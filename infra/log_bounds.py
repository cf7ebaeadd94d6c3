"""Log lines of bounded size, whatever is logged: long values are cut (saying how much), tracebacks are short.

A log line is written while the event loop waits, so rendering one must stay cheap even for a pathological
failure: a RecursionError thousands of frames deep, an exception message of megabytes, a long chain of causes.
Tracebacks are formatted here, not by Rich or `traceback`: frames are read from the traceback's linked list
without locals, a recursion is collapsed to one round of its frames and a count, only the outermost and
innermost frames are written (each line cut), messages are cut, and at most a few exceptions of a chain and
of a group are shown. Then every field is cut to its share of the line, and a line still over the bound is
rendered again with smaller shares (`BoundedRenderer`).

What was cut says so: `…[cut 123456 bytes]` (bytes of UTF-8 not written).
"""

from __future__ import annotations

import linecache
import sys
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from types import TracebackType
from typing import Any

from structlog.types import EventDict, WrappedLogger

DEFAULT_MAX_LINE_BYTES = 16 * 1024
MIN_FIELD_BYTES = 64
CONTEXT_FIELDS = ("timestamp", "level", "logger", "case_id", "workflow_id", "run_id", "request_id", "activity",
                  "attempt")  # never cut below CONTEXT_BYTES: a line must still say whose it is
CONTEXT_BYTES = 256
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


# --- tracebacks ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TracebackBounds:
    """How much of an exception is written."""

    head_frames: int = 6  # outermost frames (where the work came from)
    tail_frames: int = 18  # innermost frames (where it failed), counting each recursion round once
    frame_line_bytes: int = 240  # each `File …` line and each source line
    message_bytes: int = 2048  # an exception's message (and notes)
    chain: int = 4  # exceptions of a chain (causes, contexts) shown, the newest ones
    group_members: int = 3  # sub-exceptions of an exception group shown, one level deep
    max_period: int = 24  # longest recursion round (in frames) recognised


@dataclass(frozen=True)
class _Repeat:
    frames: list[TracebackType]
    times: int  # how often the round ran in all (the first shown, the others counted)


def _frames(tb: TracebackType | None) -> list[TracebackType]:
    frames = []
    while tb is not None:
        frames.append(tb)
        tb = tb.tb_next
    return frames


def _collapse(frames: list[TracebackType], max_period: int) -> list[TracebackType | _Repeat]:
    """Runs of the same round of frames (a recursion) as one round and a count; O(frames × max_period)."""
    keys = [(id(tb.tb_frame.f_code), tb.tb_lasti) for tb in frames]  # tb_lineno would decode line tables
    n = len(keys)
    items: list[TracebackType | _Repeat] = []
    i = 0
    while i < n:
        repeat = None
        for period in range(1, max_period + 1):
            if i + 3 * period > n:
                break
            if keys[i] != keys[i + period]:
                continue
            round_ = keys[i : i + period]
            times = 1
            while i + (times + 1) * period <= n and keys[i + times * period : i + (times + 1) * period] == round_:
                times += 1
            if times >= 3:
                repeat = _Repeat(frames[i : i + period], times)
                break
        if repeat is None:
            items.append(frames[i])
            i += 1
        else:
            items.append(repeat)
            i += repeat.times * len(repeat.frames)
    return items


def _size(item: TracebackType | _Repeat) -> int:
    return 1 if isinstance(item, TracebackType) else len(item.frames) + 1


def _frame_text(tb: TracebackType, bounds: TracebackBounds) -> str:
    code = tb.tb_frame.f_code
    lineno = tb.tb_lineno
    where = cut(f'  File "{code.co_filename}", line {lineno}, in {code.co_name}', bounds.frame_line_bytes)
    try:
        source = linecache.getline(code.co_filename, lineno, tb.tb_frame.f_globals).strip()
    except Exception:  # a loader that fails: the frame without its line
        source = ""
    return f"{where}\n    {cut(source, bounds.frame_line_bytes)}" if source else where


def _omitted(items: list[TracebackType | _Repeat]) -> str:
    count = sum(1 if isinstance(item, TracebackType) else len(item.frames) * item.times for item in items)
    repeats = [item for item in items if isinstance(item, _Repeat)]
    if not repeats:
        return f"  [… {count} frames not shown …]"
    most = max(repeats, key=lambda r: len(r.frames) * r.times)
    last = most.frames[-1].tb_frame.f_code
    return (f"  [… {count} frames not shown, among them a round of {len(most.frames)} frames repeated "
            f"{most.times} times, ending in {cut(last.co_name, 120)} ({cut(last.co_filename, 240)}) …]")


def _stack_text(tb: TracebackType | None, bounds: TracebackBounds) -> list[str]:
    items = _collapse(_frames(tb), bounds.max_period)
    selected: list[TracebackType | _Repeat | str] = list(items)
    if sum(_size(item) for item in items) > bounds.head_frames + bounds.tail_frames:
        head, used = 0, 0
        while head < len(items) and used + _size(items[head]) <= bounds.head_frames:
            used += _size(items[head])
            head += 1
        tail, used = len(items), 0
        while tail > head and used + _size(items[tail - 1]) <= bounds.tail_frames:
            used += _size(items[tail - 1])
            tail -= 1
        selected = [*items[:head], _omitted(items[head:tail]), *items[tail:]]
    lines = []
    for item in selected:
        if isinstance(item, str):
            lines.append(item)
        elif isinstance(item, TracebackType):
            lines.append(_frame_text(item, bounds))
        else:
            lines.extend(_frame_text(f, bounds) for f in item.frames)
            rounds = "frame" if len(item.frames) == 1 else f"{len(item.frames)} frames"
            lines.append(f"  [the {rounds} above repeated {item.times - 1} more times]")
    return lines


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception as error:  # a __str__ that fails (or recurses) must not fail the log line
        return f"<str() failed: {type(error).__name__}>"


def _exception_line(exc: BaseException, bounds: TracebackBounds) -> str:
    kind = type(exc)
    name = kind.__qualname__
    if kind.__module__ not in ("builtins", "__main__"):
        name = f"{kind.__module__}.{name}"
    message = cut(_safe_str(exc), bounds.message_bytes)
    line = f"{name}: {message}" if message else name
    notes = getattr(exc, "__notes__", None)
    if isinstance(notes, list | tuple):
        line += "".join(f"\n{cut(_safe_str(note), bounds.message_bytes // 4)}" for note in notes[:3])
        if len(notes) > 3:
            line += f"\n[… {len(notes) - 3} more notes …]"
    return line


def _chain(exc: BaseException, limit: int) -> tuple[list[tuple[BaseException, str]], int]:
    """The exception and what led to it, newest first, with how each links to the next newer one; and how
    many older ones are left out. Cycles end the walk."""
    found: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    link = ""
    skipped = 0
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if len(found) < limit:
            found.append((current, link))
        else:
            skipped += 1
            if skipped == MAX_CHAIN_WALK:  # a chain this long is a bug of its own; stop counting
                break
        if current.__cause__ is not None:
            current, link = current.__cause__, "cause"
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, "context"
        else:
            current = None
    return found, skipped


MAX_CHAIN_WALK = 10_000
_LINKS = {
    "cause": "\nThe above exception was the direct cause of the following exception:\n",
    "context": "\nDuring handling of the above exception, another exception occurred:\n",
}


def _one_exception(exc: BaseException, bounds: TracebackBounds, depth: int) -> list[str]:
    lines = []
    if exc.__traceback__ is not None:
        lines.append("Traceback (most recent call last):")
        lines.extend(_stack_text(exc.__traceback__, bounds))
    lines.append(_exception_line(exc, bounds))
    members = getattr(exc, "exceptions", None)
    if isinstance(exc, BaseExceptionGroup) and isinstance(members, tuple) and depth < 1:
        smaller = TracebackBounds(
            head_frames=2, tail_frames=4, frame_line_bytes=bounds.frame_line_bytes,
            message_bytes=bounds.message_bytes // 4, chain=1, group_members=0, max_period=bounds.max_period,
        )
        for number, member in enumerate(members[: bounds.group_members], start=1):
            lines.append(f"+---- {number} of {len(members)} ----")
            lines.extend("| " + line for line in _format(member, smaller, depth + 1).splitlines())
        if len(members) > bounds.group_members:
            lines.append(f"+---- [… {len(members) - bounds.group_members} more sub-exceptions …]")
    return lines


def _format(exc: BaseException, bounds: TracebackBounds, depth: int) -> str:
    chain, skipped = _chain(exc, bounds.chain)
    parts: list[str] = []
    if skipped:
        more = "at least " if skipped == MAX_CHAIN_WALK else ""
        parts.append(f"[… {more}{skipped} earlier exceptions of the chain not shown …]")
    for index in range(len(chain) - 1, -1, -1):  # oldest first, as Python prints them
        current, _ = chain[index]
        parts.extend(_one_exception(current, bounds, depth))
        if index > 0:
            parts.append(_LINKS[chain[index][1]])
    return "\n".join(parts)


def format_exception(exc: BaseException, bounds: TracebackBounds | None = None) -> str:
    """The exception, its traceback and its chain much as Python prints them, in the size `bounds` allow (tens
    of KiB at most: frames × line bytes + messages, for each exception of the chain shown)."""
    try:
        return _format(exc, bounds or TracebackBounds(), 0)
    except Exception as error:  # never let formatting a failure fail the log line
        return f"{type(exc).__name__}: {cut(_safe_str(exc), 1024)} [traceback not formatted: {type(error).__name__}]"


# --- event dicts ---------------------------------------------------------------------------------------------

_SCALARS = (bool, float, type(None))
MAX_ITEMS = 50  # items of one dict or list in a field
MAX_NODES = 200  # values looked at in one field, nested ones included
MAX_DEPTH = 4
MAX_FIELDS = 100


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception as error:
        return f"<{type(value).__name__}; repr() failed: {type(error).__name__}>"


class _FieldBound:
    """Cuts one field's value to about `limit` bytes in all: a container shares it among its items."""

    def __init__(self, sizes: dict[int, int] | None = None) -> None:
        self.nodes = MAX_NODES
        self.sizes = {} if sizes is None else sizes  # utf8_size of long strings by id, while they are alive

    def __call__(self, value: Any, limit: int, depth: int = 0) -> Any:
        self.nodes -= 1
        if isinstance(value, str):
            if len(value) <= limit:
                return cut(value, limit)
            if id(value) not in self.sizes:
                self.sizes[id(value)] = utf8_size(value)
            return cut(value, limit, total=self.sizes[id(value)])
        if isinstance(value, _SCALARS):
            return value
        if isinstance(value, int):
            return value if value.bit_length() <= 4096 else f"<int of {value.bit_length()} bits>"
        if isinstance(value, dict | list | tuple) and depth < MAX_DEPTH and self.nodes > 0:
            return self._container(value, limit, depth)
        return cut(_safe_repr(value), limit)

    def _container(self, value: dict[Any, Any] | list[Any] | tuple[Any, ...], limit: int, depth: int) -> Any:
        count = min(len(value), MAX_ITEMS, max(1, self.nodes))
        share = max(MIN_FIELD_BYTES // 2, limit // max(1, count))
        if isinstance(value, dict):
            items = {
                cut(k, share) if isinstance(k, str) else k: self(v, share, depth + 1)
                for k, v in islice(value.items(), count)
            }
            if len(value) > count:
                items["…"] = f"[cut {len(value) - count} items]"
            return items
        kept = [self(v, share, depth + 1) for v in value[:count]]
        if len(value) > count:
            kept.append(f"…[cut {len(value) - count} items]")
        return tuple(kept) if isinstance(value, tuple) else kept


def bound_value(value: Any, limit: int, sizes: dict[int, int] | None = None) -> Any:
    """`value` cut to about `limit` bytes: strings in it cut, containers to MAX_ITEMS items (MAX_NODES values
    and MAX_DEPTH levels in all), anything else its cut repr (which is what either renderer would write).
    `sizes` remembers the sizes of long strings across calls on the same (live) value."""
    return _FieldBound(sizes)(value, limit)


def _exc_info_exception(exc_info: Any) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3 and isinstance(exc_info[1], BaseException):
        return exc_info[1]
    if exc_info is True:
        return sys.exc_info()[1]
    return None


Renderer = Callable[[WrappedLogger, str, EventDict], str]


class BoundedRenderer:
    """The final processor: the renderer's line, at most `max_line_bytes` (UTF-8, without its newline).

    `exc_info` becomes a bounded `exception` text (as `format_exc_info` would make it), given half the line; every
    other field a quarter of it. A line still over the bound (many fields, JSON's escapes) is rendered again from
    the original values with every field's share cut in proportion, so each cut still counts all the bytes not
    written; failing that, with only the context fields and a note; failing that, cut as text. Context fields
    (case, workflow, request ids…) are never cut below CONTEXT_BYTES.
    """

    def __init__(
        self, renderer: Renderer, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, bounds: TracebackBounds | None = None
    ) -> None:
        self.renderer = renderer
        self.max_line_bytes = max_line_bytes
        self.bounds = bounds or TracebackBounds()

    def __call__(self, logger: WrappedLogger, name: str, event: EventDict) -> str:
        event = self._with_exception_text(event)
        limits = {key: self.max_line_bytes // (2 if key == "exception" else 4) for key in event}
        size = 0
        sizes: dict[int, int] = {}  # the values stay alive in `event` meanwhile, so their ids stay theirs
        for _ in range(5):
            bounded = {key: self._bound(key, value, limits[key], sizes) for key, value in event.items()}
            line = self.renderer(logger, name, dict(bounded))  # a copy: renderers pop keys
            size = utf8_size(line)
            if size <= self.max_line_bytes:
                return line
            ratio = self.max_line_bytes / size * 0.9
            for key, value in bounded.items():
                floor = CONTEXT_BYTES if key in CONTEXT_FIELDS else MIN_FIELD_BYTES
                limits[key] = max(floor, int(min(limits[key], _text_size(value)) * ratio))
        room = min(CONTEXT_BYTES, self.max_line_bytes // 32)
        essentials = {key: cut(_safe_str(value), room) for key, value in event.items() if key in CONTEXT_FIELDS}
        essentials["event"] = cut(_safe_str(event.get("event", "")), self.max_line_bytes // 4)
        essentials["log_cut"] = f"[cut {size} bytes: the line did not fit in {self.max_line_bytes}]"
        return cut(self.renderer(logger, name, essentials), self.max_line_bytes)

    def _with_exception_text(self, event: EventDict) -> EventDict:
        exc_info = event.pop("exc_info", None)
        exc = _exc_info_exception(exc_info) if exc_info else None
        if exc is not None:
            event["exception"] = format_exception(exc, self.bounds)
        if len(event) > MAX_FIELDS:  # a flood of fields: the first ones (and the context) stay, and say so
            extra = [k for k in islice(event, MAX_FIELDS, None) if k not in (*CONTEXT_FIELDS, "event", "exception")]
            for key in extra:
                del event[key]
            event["log_cut"] = f"[cut {len(extra)} fields]"
        return event

    @staticmethod
    def _bound(key: str, value: Any, limit: int, sizes: dict[int, int]) -> Any:
        if key == "exception" and isinstance(value, str):
            return cut(value, limit, keep_end=True)  # the innermost frames and the message are at the end
        return bound_value(value, limit, sizes)


def _text_size(value: Any) -> int:
    return utf8_size(value if isinstance(value, str) else _safe_repr(value))
