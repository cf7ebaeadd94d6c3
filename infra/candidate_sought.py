"""The sought technologies as PostgreSQL reads them: stemmed, their telling words, and a tsquery of each.

One statement whatever is sought: the technologies travel as one bound `text[]` (`NAMED`, its value from
`sought_technologies`), read row by row from `unnest`, so twenty long technologies make no deeper a statement
than one word (building one per technology once overflowed Python's recursion limit). Built once, at import.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, Select, TextualSelect, bindparam, cast, column, select, text
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY
from sqlalchemy.types import Text

from domain import matching
from domain.folding import words

SOUGHT = text(
    r"""
    SELECT n, phrase, words,
           (SELECT CAST(string_agg(q, ' | ') AS tsquery)
              FROM (SELECT '(' || phrase::text || ')' WHERE numnode(phrase) > 0 AND cardinality(words) = 0
                    UNION ALL
                    SELECT '''' || replace(replace(word, '\', '\\'), '''', '''''') || ''''
                      FROM unnest(words) AS word) AS queries (q)) AS query
      FROM (SELECT n, phraseto_tsquery('english', name) AS phrase,
                   tsvector_to_array(ts_delete(to_tsvector('english', name),
                                               tsvector_to_array(to_tsvector('english', :generic_words)))) AS words
              FROM unnest(CAST(:technologies AS text[])) WITH ORDINALITY AS named (name, n)) AS named
    """
).columns(column("n", Integer), column("phrase", TSQUERY), column("words", ARRAY(Text)), column("query", TSQUERY))
"""One row per sought technology, `n` its place in the request (from 1): `phrase`, all its words in order as
the English configuration stems them (what "named word for word" means); `words`, its telling words (its
stems less those of `GENERIC_WORDS`); and `query`, one flat tsquery `'word' | 'word' | …` that every SME
sharing a telling word with the technology, or naming it whole, matches. Each word is quoted and escaped, so
nothing in it is read as an operator. The phrase is in `query` only when there is no telling word (an SME
naming the technology whole has all its telling words, and a query without a phrase needs no recheck of each
row); `query` is NULL, matching nothing, when the technology has no word PostgreSQL indexes."""


NAMED = bindparam("technologies", type_=ARRAY(Text))
"""The sought technologies, as one `text[]` parameter (`sought_technologies` gives its value)."""


def sought_technologies(technologies: list[str]) -> list[str]:
    """The value of `NAMED`: the sought technologies folded (`domain.folding.words`: NFKC) as the registry's
    technology vectors are (migration 0027), so `ｐｙｔｈｏｎ` or `PYTHON` is the word `python` on both sides.
    PostgreSQL text cannot hold NUL; in a technology's name it separates words, as a space would."""
    return [words(name).replace("\x00", " ") for name in technologies]


def sought() -> TextualSelect:
    """`SOUGHT` with its parameters: the sought technologies (`NAMED`, given at execution) and `GENERIC_WORDS`."""
    return SOUGHT.bindparams(NAMED, generic_words=matching.GENERIC_WORDS)


def _sought_words() -> Select[Any]:
    named = sought().subquery("sought")
    return select(cast(named.c.phrase, Text).label("phrase"), named.c.words).order_by(named.c.n)


SOUGHT_WORDS = _sought_words()
"""Each sought technology's `phrase` (tsquery text) and telling `words`, in the request's order (executed with
`technologies`: `sought_technologies`)."""
