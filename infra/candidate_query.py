"""The matching engine's one SQL query: every factor of `domain.matching`, computed where the SMEs are.

Ranking 100,000 SMEs in Python would mean fetching them; instead PostgreSQL picks the SMEs sharing at least
one word with a sought technology (GIN full-text index on `smes.search`), scores each with the same factor
definitions as `domain.matching` (tests/test_matching.py checks every factor against them) and returns only
the top few with their factors.

The query has the same text whatever is sought: the technologies travel as one bound array, and PostgreSQL
reads them (stemming, phrase queries, telling words) row by row from `unnest`. The text depends only on which
of the request's and the officer's criteria are given, never on how many technologies or words there are, so
a long request cannot make it deeper (building it once overflowed Python's recursion limit).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Float,
    Integer,
    Select,
    any_,
    bindparam,
    case,
    cast,
    column,
    func,
    literal,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY, aggregate_order_by
from sqlalchemy.types import Boolean, Text

from domain import matching
from domain.model import EmployeeRange
from domain.payloads import MatchingCriteria
from infra.tables import smes

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


def _as_float(expression: ColumnElement[Any]) -> ColumnElement[float]:
    return cast(expression, Float)


def _texts(values: list[str]) -> ColumnElement[list[str]]:
    """One bound `text[]` parameter, however many values."""
    return literal(values, ARRAY(Text))


def technology_match(sought: CTE) -> ColumnElement[float]:
    """One sought technology's match with one SME, as `domain.matching.technology_match` defines it."""
    exact = smes.c.search.op("@@")(sought.c.phrase)
    telling = func.cardinality(sought.c.words)
    # The SME's lexemes among the telling words: all of them, less those left once the telling words are deleted.
    found = func.length(smes.c.search) - func.length(func.ts_delete(smes.c.search, sought.c.words))
    return _as_float(
        case(
            (exact, literal(matching.EXACT)),
            (telling < 2, literal(0.0)),  # a technology of one telling word is named whole or not at all
            else_=matching.PARTIAL * _as_float(found) / _as_float(telling),
        )
    )


def _region(prefectures: list[str]) -> ColumnElement[float]:
    if not prefectures:
        return literal(1.0)
    nearby = matching.nearby_prefectures(prefectures)
    return case(
        (smes.c.prefecture == any_(_texts(prefectures)), literal(1.0)),
        (smes.c.prefecture == any_(_texts(nearby)), literal(matching.SAME_REGION)),
        else_=literal(0.0),
    )


def _size(wanted: EmployeeRange | None) -> ColumnElement[float]:
    if wanted is None:
        return literal(1.0)
    employees = _as_float(smes.c.employees)
    falloff = func.ln(literal(matching.SIZE_FALLOFF))
    return case(
        (smes.c.employees.between(wanted.min, wanted.max), literal(1.0)),
        (
            smes.c.employees > wanted.max,
            func.greatest(0.0, 1.0 - func.ln(employees / float(wanted.max)) / falloff),
        ),
        else_=func.greatest(0.0, 1.0 - func.ln(float(wanted.min) / func.greatest(employees, 1.0)) / falloff),
    )


def _readiness(as_of: datetime) -> ColumnElement[float]:
    def held(column: Any) -> ColumnElement[float]:
        return _as_float(cast(func.cardinality(column) > 0, Integer))

    fresh = _as_float(cast(smes.c.updated_at >= as_of - matching.FRESH_FOR, Integer))
    return 0.5 * held(smes.c.overseas_interest) + 0.25 * held(smes.c.certifications) + 0.25 * fresh


def _filters(criteria: MatchingCriteria) -> list[ColumnElement[bool]]:
    """The officer's criteria narrow the field; they never add to it."""
    filters: list[ColumnElement[bool]] = [smes.c.consent.is_(True)]
    if criteria.industries:
        filters.append(smes.c.industries.overlap(criteria.industries))
    if criteria.prefectures:
        filters.append(smes.c.prefecture == any_(_texts(criteria.prefectures)))
    if criteria.min_employees is not None:
        filters.append(smes.c.employees >= criteria.min_employees)
    if criteria.max_employees is not None:
        filters.append(smes.c.employees <= criteria.max_employees)
    if criteria.certifications:
        filters.append(smes.c.certifications.contains(_texts(criteria.certifications)))
    if criteria.overseas_interest:
        filters.append(func.cardinality(smes.c.overseas_interest) > 0)
    return filters


def _best_first(score: ColumnElement[float], sme_id: ColumnElement[str]) -> list[ColumnElement[Any]]:
    """Higher scores first, equal scores by corporate number. Scores are compared to 9 decimal places: the same
    score reached by different sums (factors adding up to it in different ways, or technology matches added in
    another order) may differ in the last bits of a double, and that is no reason to put the higher corporate
    number first."""
    return [func.round(score * 1e9).desc(), sme_id]


def candidate_query(
    technologies: list[str],
    industries: list[str],
    prefectures: list[str],
    employees: EmployeeRange | None,
    criteria: MatchingCriteria,
    weights: matching.MatchWeights,
    as_of: datetime,
) -> Select[Any]:
    """The top `criteria.limit` consenting SMEs sharing a word with a sought technology, best first.

    Each row has the SME's id, name, prefecture, employees and certifications; each factor of
    `domain.matching.FACTORS`; the `score`; and, one entry per sought technology in the request's order,
    `exact` (named word for word?) and `matches` (its match value).

    `field` finds the SMEs through the index one sought technology at a time (those sharing a word with it)
    and groups them by SME: each SME is scored against the technologies it shares a word with, the others
    adding 0. `best` weighs the factors into the score and keeps the top few; only those are explained.
    """
    # PostgreSQL text cannot hold NUL; in a technology's name it separates words, as a space would.
    named = bindparam("technologies", [name.replace("\x00", " ") for name in technologies], type_=ARRAY(Text))
    # Worked out once per request (stemming, the query of each technology), not once per SME.
    sought = SOUGHT.bindparams(named, generic_words=matching.GENERIC_WORDS).cte("sought").prefix_with("MATERIALIZED")
    industry = (
        case((smes.c.industries.overlap(industries), literal(1.0)), else_=literal(0.0))
        if industries
        else literal(1.0)
    )
    field = (
        select(
            smes.c.id,
            smes.c.name,
            smes.c.prefecture,
            smes.c.employees,
            smes.c.certifications,
            _as_float(func.sum(technology_match(sought)) / func.cardinality(named)).label("technology_fit"),
            _as_float(industry).label("industry"),
            _as_float(_region(prefectures)).label("region"),
            _as_float(_size(employees)).label("size_fit"),
            _as_float(_readiness(as_of)).label("readiness"),
        )
        .select_from(sought.join(smes, smes.c.search.op("@@")(sought.c.query)))
        .where(*_filters(criteria))
        .group_by(smes.c.id)
        .cte("field")
    )
    share = weights.normalised()
    weighted = sum((share[name] * field.c[name] for name in matching.FACTORS), literal(0.0))
    best = (
        select(field, _as_float(weighted).label("score"))
        .order_by(*_best_first(weighted, field.c.id))
        .limit(criteria.limit)
        .cte("best")
    )
    explained = select(
        func.array_agg(aggregate_order_by(smes.c.search.op("@@")(sought.c.phrase), sought.c.n), type_=ARRAY(Boolean))
        .label("exact"),
        func.array_agg(aggregate_order_by(technology_match(sought), sought.c.n), type_=ARRAY(Float))
        .label("matches"),
    ).lateral("explained")
    return (
        select(best, explained.c.exact, explained.c.matches)
        .select_from(best.join(smes, smes.c.id == best.c.id).join(explained, true()))
        .order_by(*_best_first(best.c.score, best.c.id))
    )
