"""The factors of `domain.matching` as SQL over an SME's columns, the score they weigh into and the ranking order.

Each is the domain's definition written for PostgreSQL (tests/integration/test_matching.py checks every factor,
the score and the reason against `domain.matching`). What a request gives them (sought industries, prefectures,
headcounts, when an update counts as recent, each factor's share) are parameters, their values from
`factor_parameters`, so one statement serves every request of its shape (`infra.candidate_query`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import CTE, ColumnElement, Float, FromClause, Integer, any_, bindparam, case, cast, func, literal
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import Text

from domain import matching
from domain.filing import EmployeeRange
from infra.tables import smes


def as_float(expression: ColumnElement[Any]) -> ColumnElement[float]:
    """`expression` as a double (SQL `FLOAT`), as every factor and the score are computed."""
    return cast(expression, Float)


def technology_match(sought: CTE, sme: FromClause = smes) -> ColumnElement[float]:
    """One sought technology's match with one SME, as `domain.matching.technology_match` defines it."""
    exact = sme.c.search.op("@@")(sought.c.phrase)
    telling = func.cardinality(sought.c.words)
    # The SME's lexemes among the telling words: all of them, less those left once the telling words are deleted.
    found = func.length(sme.c.search) - func.length(func.ts_delete(sme.c.search, sought.c.words))
    return as_float(
        case(
            (exact, literal(matching.EXACT)),
            (telling < 2, literal(0.0)),  # a technology of one telling word is named whole or not at all
            else_=matching.PARTIAL * as_float(found) / as_float(telling),
        )
    )


def industry(sme: FromClause) -> ColumnElement[float]:
    """1 in a sought JSIC division (parameter `industries`), else 0."""
    sought = bindparam("industries", type_=smes.c.industries.type)
    return case((sme.c.industries.overlap(sought), literal(1.0)), else_=literal(0.0))


def region(sme: FromClause) -> ColumnElement[float]:
    """1 in a sought prefecture (parameter `prefectures`), SAME_REGION in one of their region (`nearby`), else 0."""
    return case(
        (sme.c.prefecture == any_(bindparam("prefectures", type_=ARRAY(Text))), literal(1.0)),
        (sme.c.prefecture == any_(bindparam("nearby", type_=ARRAY(Text))), literal(matching.SAME_REGION)),
        else_=literal(0.0),
    )


def size(sme: FromClause) -> ColumnElement[float]:
    """The size fit against the sought range: parameters `size_min` and `size_max` (headcounts), and the same as
    doubles, `size_min_float` and `size_max_float`, which the fall-off divides by and into."""
    employees = as_float(sme.c.employees)
    most = bindparam("size_max", type_=Integer)
    falloff = func.ln(literal(matching.SIZE_FALLOFF))
    return case(
        (sme.c.employees.between(bindparam("size_min", type_=Integer), most), literal(1.0)),
        (
            sme.c.employees > most,
            func.greatest(0.0, 1.0 - func.ln(employees / bindparam("size_max_float", type_=Float)) / falloff),
        ),
        else_=func.greatest(
            0.0,
            1.0 - func.ln(bindparam("size_min_float", type_=Float) / func.greatest(employees, 1.0)) / falloff,
        ),
    )


def readiness(sme: FromClause) -> ColumnElement[float]:
    """½ wants to go abroad + ¼ holds a certification + ¼ updated at or after the parameter `fresh_since`, as
    `domain.matching` defines readiness."""
    def held(column: Any) -> ColumnElement[float]:
        return as_float(cast(func.cardinality(column) > 0, Integer))

    fresh = as_float(cast(sme.c.updated_at >= bindparam("fresh_since", type_=sme.c.updated_at.type), Integer))
    return 0.5 * held(sme.c.overseas_interest) + 0.25 * held(sme.c.certifications) + 0.25 * fresh


def weighted(factor: Callable[[str], Any]) -> Any:
    """The score as the query adds it up: 0.0, then each factor times its share (parameter `share_<factor>`), in
    `FACTORS` order."""
    return sum(
        (bindparam(f"share_{name}", type_=Float) * factor(name) for name in matching.FACTORS), literal(0.0)
    )


def highest_score(weights: matching.MatchWeights) -> float:
    """The score of an SME whose every factor is 1, worked out in doubles as the query works it out (the same
    additions of the same shares, in the same order): no SME scores more, as each factor is at most 1 and
    rounding keeps products and sums in order."""
    share = weights.normalised()
    return sum((share[name] * 1.0 for name in matching.FACTORS), 0.0)


def best_first(score: ColumnElement[float], sme_id: ColumnElement[str]) -> list[ColumnElement[Any]]:
    """Higher scores first, equal scores by corporate number. Scores are compared to 9 decimal places: the same
    score reached by different sums (factors adding up to it in different ways, or technology matches added in
    another order) may differ in the last bits of a double, and that is no reason to put the higher corporate
    number first."""
    return [func.round(score * 1e9).desc(), sme_id]


def factor_parameters(
    industries: list[str],
    prefectures: list[str],
    employees: EmployeeRange | None,
    weights: matching.MatchWeights,
    as_of: datetime,
) -> dict[str, Any]:
    """A request's values for the factors' parameters: `industries`, `prefectures` and `nearby` (for `region`),
    the `size_*` headcounts, `fresh_since` (`as_of` less `FRESH_FOR`) and each factor's `share_*` of the score.
    The sought industries, prefectures and headcounts only when given (a factor of a request without them is 1,
    with no parameter)."""
    share = weights.normalised()
    parameters: dict[str, Any] = {
        "fresh_since": as_of - matching.FRESH_FOR,
        **{f"share_{name}": share[name] for name in matching.FACTORS},
    }
    if industries:
        parameters["industries"] = industries
    if prefectures:
        parameters |= {"prefectures": prefectures, "nearby": matching.nearby_prefectures(prefectures)}
    if employees is not None:
        parameters |= {
            "size_min": employees.min, "size_max": employees.max,
            "size_min_float": float(employees.min), "size_max_float": float(employees.max),
        }
    return parameters
