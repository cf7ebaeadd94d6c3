"""Log lines of bounded size, whatever is logged: long values are cut (saying how much), tracebacks are short.

A log line is written while the event loop waits, so rendering one must stay cheap even for a pathological
failure. Tracebacks are formatted short (`infra.tracebacks`); then every field is cut to its share of the line
(`infra.text_cut`), and a line still over the bound is rendered again with smaller shares (`BoundedRenderer`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from itertools import islice
from typing import Any

from structlog.types import EventDict, WrappedLogger

from infra.text_cut import cut, safe_repr, safe_str, utf8_size
from infra.tracebacks import TracebackBounds, format_exception

DEFAULT_MAX_LINE_BYTES = 16 * 1024
MIN_FIELD_BYTES = 64
CONTEXT_FIELDS = ("timestamp", "level", "logger", "case_id", "workflow_id", "run_id", "request_id", "activity",
                  "attempt")  # never cut below CONTEXT_BYTES: a line must still say whose it is
CONTEXT_BYTES = 256

_SCALARS = (bool, float, type(None))
MAX_ITEMS = 50  # items of one dict or list in a field
MAX_NODES = 200  # values looked at in one field, nested ones included
MAX_DEPTH = 4
MAX_FIELDS = 100


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
        return cut(safe_repr(value), limit)

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
        essentials = {key: cut(safe_str(value), room) for key, value in event.items() if key in CONTEXT_FIELDS}
        essentials["event"] = cut(safe_str(event.get("event", "")), self.max_line_bytes // 4)
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
    return utf8_size(value if isinstance(value, str) else safe_repr(value))
