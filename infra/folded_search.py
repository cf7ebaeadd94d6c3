"""Searching text as people type it: a part of a name, compared folded (`domain.folding.fold`) on both sides.

The database folds the stored column with `casedesk_fold` (migration 0018: NFKC, lower case, hiragana as
katakana), served by a trigram index on that expression; the query is folded here in Python with the same steps.
The comparison is ILIKE, so a letter whose lower case the database's locale reads otherwise still matches.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, or_

from domain.folding import fold


def folded(column: ColumnElement[Any]) -> ColumnElement[str]:
    """The column as the search compares it (the expression the trigram indexes of migration 0018 serve)."""
    return func.casedesk_fold(column)


def contains_folded(part: str, *columns: ColumnElement[Any]) -> ColumnElement[bool]:
    """Any of `columns` contains `part`, both folded; `%`, `_` and `\\` in `part` are taken literally."""
    escaped = fold(part).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(*(folded(column).ilike(f"%{escaped}%", escape="\\") for column in columns))
