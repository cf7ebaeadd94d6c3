"""When the door's rules apply: to what has just come in (`at_the_door`), and not to what is read back as stored.

A rule added later never makes a stored case unreadable or a workflow history unreplayable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

_AT_THE_DOOR: ContextVar[bool] = ContextVar("at_the_door", default=False)
T = TypeVar("T")


@contextmanager
def at_the_door() -> Iterator[None]:
    """Validate what comes in by every rule of `domain.fields` (the API does for each request, the commands for
    their input).

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
