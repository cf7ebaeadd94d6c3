"""A query parameter an API operation does not declare is refused (422 naming it and what the operation takes),
never silently ignored: a typo such as `?stgae=matching` would otherwise answer every case as if unfiltered. One
given twice (`?stage=matching&stage=closed`) is refused too, rather than answered with its last value."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from typing import Annotated

from fastapi import Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BeforeValidator, StringConstraints

from api.problems import validation_problem
from domain.fields import UtcRepresentable
from domain.text_rules import ONE_LINE_PATTERN, one_line

ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?")


def _iso_time(value: object) -> object:
    """Only an ISO 8601 time: pydantic would also read `0.0` or `1700000000` as seconds since 1970."""
    if isinstance(value, str) and not ISO_TIME.fullmatch(value):
        raise ValueError("an ISO 8601 time with its offset, e.g. 2026-03-03T09:00:00+09:00")
    return value


QueryTime = Annotated[datetime, BeforeValidator(_iso_time), UtcRepresentable]
"""A time in a query string, written as ISO 8601, that exists in UTC (the routes ask for its offset themselves)."""

MAX_SEARCH = 200
"""The longest search text (`q`, `technology`), in characters: far longer than any name or reference."""


def search_query(description: str) -> object:
    """The `Query` of a search text: at most `MAX_SEARCH` characters, one line without control characters (the
    rule of `domain.text_rules.one_line`, also stated as the schema's `pattern`)."""
    return Query(description=description, json_schema_extra={"pattern": ONE_LINE_PATTERN})


SearchText = Annotated[str, StringConstraints(max_length=MAX_SEARCH), AfterValidator(one_line)]
"""A search text as it comes in: one line of text without control characters (NUL, CR, LF, TAB, DEL, C1, U+2028,
U+2029); anything else is a 422 naming the parameter and the first character refused."""

_DECLARED: dict[int, frozenset[str]] = {}


def declared(dependant: Dependant) -> frozenset[str]:
    """The query parameters an operation (with its dependencies) declares, by the names clients send."""
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= declared(sub)
    return frozenset(names)


async def only_declared_query(request: Request) -> None:
    """Every `/api/` operation's dependency: raise a 422 problem for query parameters it does not take, and for
    one given more than once (none takes a list)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not route.path.startswith("/api/"):
        return
    allowed = _DECLARED.get(id(route))
    if allowed is None:
        allowed = _DECLARED[id(route)] = declared(route.dependant)
    given = [name for name, _ in request.query_params.multi_items()]
    unknown = sorted(set(given) - allowed)
    if unknown:
        takes = ", ".join(f"`{name}`" for name in sorted(allowed)) or "none"
        why = f"not a parameter of this operation (it takes: {takes})"
        raise validation_problem([{"loc": ["query", name], "type": "extra_forbidden", "msg": why} for name in unknown])
    twice = sorted(name for name, times in Counter(given).items() if times > 1)
    if twice:  # the framework would take the last value and drop the others unseen
        raise validation_problem([{"loc": ["query", name], "type": "repeated",
                                   "msg": "given more than once: each parameter of this operation takes one value, "
                                          "given once"} for name in twice])
