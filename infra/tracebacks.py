"""Tracebacks of bounded size, cheap to render even for a pathological failure.

A RecursionError thousands of frames deep, an exception message of megabytes, a long chain of causes: the
traceback is formatted here, not by Rich or `traceback`. Frames are read from the traceback's linked list
without locals, a recursion is collapsed to one round of its frames and a count, only the outermost and
innermost frames are written (each line cut), messages are cut, and at most a few exceptions of a chain and
of a group are shown.
"""

from __future__ import annotations

import linecache
from dataclasses import dataclass
from types import TracebackType

from infra.text_cut import cut, safe_str


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



def _exception_line(exc: BaseException, bounds: TracebackBounds) -> str:
    kind = type(exc)
    name = kind.__qualname__
    if kind.__module__ not in ("builtins", "__main__"):
        name = f"{kind.__module__}.{name}"
    message = cut(safe_str(exc), bounds.message_bytes)
    line = f"{name}: {message}" if message else name
    notes = getattr(exc, "__notes__", None)
    if isinstance(notes, list | tuple):
        line += "".join(f"\n{cut(safe_str(note), bounds.message_bytes // 4)}" for note in notes[:3])
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
        return f"{type(exc).__name__}: {cut(safe_str(exc), 1024)} [traceback not formatted: {type(error).__name__}]"

