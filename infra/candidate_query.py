"""The matching engine's one SQL query: every factor of `domain.matching`, computed where the SMEs are.

Ranking 100,000 SMEs in Python would mean fetching them; instead PostgreSQL picks the SMEs sharing at least
one word with a sought technology (GIN full-text index on `smes.search`), scores each with the same factor
definitions as `domain.matching` (tested to agree) and returns only the top few with their factors.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Float,
    Integer,
    Select,
    case,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY
from sqlalchemy.types import Text

from domain import matching
from domain.model import EmployeeRange
from domain.payloads import MatchingCriteria
from infra.tables import smes


@dataclass(frozen=True)
class SoughtTechnology:
    """A technology as the request names it, with the phrase query and the telling stemmed words PostgreSQL
    makes of it (worked out once, so each SME is tested against constants)."""

    name: str
    phrase: str
    words: list[str]


def word_query(word: str) -> ColumnElement[Any]:
    """A tsquery of one stemmed word, quoted so that nothing in it is read as an operator."""
    return cast(literal("'" + word.replace("'", "''") + "'"), TSQUERY)


def _as_float(expression: ColumnElement[Any]) -> ColumnElement[float]:
    return cast(expression, Float)


def _phrase(technology: SoughtTechnology) -> ColumnElement[Any]:
    return cast(literal(technology.phrase), TSQUERY)


def technology_matches(sought: list[SoughtTechnology]) -> list[tuple[ColumnElement[bool], ColumnElement[float]]]:
    """Per sought technology: (named word for word?, its match value) as SQL."""
    result: list[tuple[ColumnElement[bool], ColumnElement[float]]] = []
    for technology in sought:
        exact = smes.c.search.op("@@")(_phrase(technology))
        if len(technology.words) < 2:  # one word: found is exact, there is no part of it to find
            result.append((exact, case((exact, literal(matching.EXACT)), else_=literal(0.0))))
            continue
        found = sum(
            (cast(smes.c.search.op("@@")(word_query(word)), Integer) for word in technology.words),
            literal(0),
        )
        partial = matching.PARTIAL * _as_float(found) / len(technology.words)
        result.append((exact, case((exact, literal(matching.EXACT)), else_=partial)))
    return result


def any_match(sought: list[SoughtTechnology]) -> ColumnElement[bool]:
    """One tsquery for the whole field (served by the GIN index): any sought technology named whole, or any
    of its telling words."""
    queries = [_phrase(t) for t in sought] + [word_query(w) for w in sorted({w for t in sought for w in t.words})]
    combined = queries[0]
    for query in queries[1:]:
        combined = combined.op("||")(query)
    return smes.c.search.op("@@")(combined)


def _region(prefectures: list[str]) -> ColumnElement[float]:
    if not prefectures:
        return literal(1.0)
    nearby = matching.nearby_prefectures(prefectures)
    return case(
        (smes.c.prefecture.in_(prefectures), literal(1.0)),
        (smes.c.prefecture.in_(nearby or [""]), literal(matching.SAME_REGION)),
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
        filters.append(smes.c.prefecture.in_(criteria.prefectures))
    if criteria.min_employees is not None:
        filters.append(smes.c.employees >= criteria.min_employees)
    if criteria.max_employees is not None:
        filters.append(smes.c.employees <= criteria.max_employees)
    if criteria.certifications:
        filters.append(smes.c.certifications.contains(cast(criteria.certifications, ARRAY(Text))))
    if criteria.overseas_interest:
        filters.append(func.cardinality(smes.c.overseas_interest) > 0)
    return filters


def candidate_query(
    sought: list[SoughtTechnology],
    industries: list[str],
    prefectures: list[str],
    employees: EmployeeRange | None,
    criteria: MatchingCriteria,
    weights: matching.MatchWeights,
    as_of: datetime,
) -> Select[Any]:
    """The top `criteria.limit` consenting SMEs matching at least one sought word, best first.

    The inner query picks the field (index on `search`) and computes each factor once per SME; the outer
    one weighs them into the score and keeps the best.
    """
    if not sought:
        return select(smes.c.id).where(literal(False, Boolean))
    matches = technology_matches(sought)
    industry = (
        case((smes.c.industries.overlap(industries), literal(1.0)), else_=literal(0.0)) if industries else literal(1.0)
    )
    field = (
        select(
            smes.c.id,
            smes.c.name,
            smes.c.prefecture,
            smes.c.employees,
            smes.c.certifications,
            *(exact.label(f"exact_{i}") for i, (exact, _) in enumerate(matches)),
            *(_as_float(value).label(f"match_{i}") for i, (_, value) in enumerate(matches)),
            _as_float(industry).label("industry"),
            _as_float(_region(prefectures)).label("region"),
            _as_float(_size(employees)).label("size_fit"),
            _as_float(_readiness(as_of)).label("readiness"),
        )
        .where(any_match(sought), *_filters(criteria))
        .cte("field")
    )
    technology_fit = sum((field.c[f"match_{i}"] for i in range(len(matches))), literal(0.0)) / len(matches)
    factors = {"technology_fit": technology_fit} | {name: field.c[name] for name in matching.FACTORS[1:]}
    share = weights.normalised()
    weighted = sum((share[name] * factors[name] for name in matching.FACTORS), literal(0.0))
    return (
        select(field, _as_float(technology_fit).label("technology_fit"), _as_float(weighted).label("score"))
        .order_by(*_best_first(weighted, field.c.id))
        .limit(criteria.limit)
    )


def _best_first(score: ColumnElement[float], sme_id: ColumnElement[str]) -> list[ColumnElement[Any]]:
    """Higher scores first, equal scores by corporate number. Scores are compared to 9 decimal places: factors
    adding up to the same score in different ways (0.5 × 0.625 + 0.1 × 0 against 0.5 × 0.5 + 0.1 × 1) may
    differ in the last bits of a double, and that is no reason to put the higher corporate number first."""
    return [func.round(score * 1e9).desc(), sme_id]
