"""The matching engine's scoring statement: every factor of `domain.matching`, computed where the SMEs are.

Ranking 100,000 SMEs in Python would mean fetching them; instead PostgreSQL picks the SMEs sharing at least
one word with a sought technology (GIN full-text index on `smes.match_terms`, `infra.candidate_field`), scores
each with the same factor definitions as `domain.matching` (`infra.candidate_factors`; tests/integration/
test_matching.py checks every factor against them) and returns only the top few with their factors.

The statement's text depends only on which of the request's and the officer's criteria are given and whether it
asks among the leading slice (`Shape`), never on how many technologies or words are sought (they travel as one
array: `infra.candidate_sought`). It is built once per shape and kept, every value of a request or a bound a
parameter given at execution, as `activities.records` builds its statements (issue 15): building and keying the
statement anew took most of matching's CPU in the worker (500 requests of the bench's shapes on 20,000 SMEs:
14–20 ms of the client's CPU a request, 5–6 ms with the statements kept).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Boolean, Float, Integer, Select, bindparam, func, literal, select, true
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by

from domain import matching
from domain.filing import EmployeeRange
from domain.payloads import MatchingCriteria
from infra.candidate_factors import (
    as_float,
    best_first,
    factor_parameters,
    industry,
    readiness,
    region,
    size,
    technology_match,
    weighted,
)
from infra.candidate_field import CriteriaShape, criteria_parameters, filters
from infra.candidate_sought import NAMED, sought, sought_technologies
from infra.tables import smes

BOUNDED_COLUMNS = (
    "id", "name", "prefecture", "employees", "certifications", "industries", "overseas_interest", "updated_at",
    "technologies", "search",
)
"""What scoring reads of an SME."""


@dataclass(frozen=True)
class Shape:
    """What the text of a request's scoring statement depends on: which of the request's (`industries`,
    `prefectures`, `employees`) and the officer's criteria (`criteria`) are given, and whether it is asked among
    the leading slice. Never the values, nor how many technologies or words are sought: those are parameters
    (`candidate_query`)."""

    industries: bool
    prefectures: bool
    employees: bool
    leading: bool
    criteria: CriteriaShape


class CandidateQuery(NamedTuple):
    """A request's scoring statement (one per `Shape`, built once) and the request's values for it; each
    execution adds a bound's (`infra.candidate_field.bound_parameters`) and, among the leading slice,
    `leading_last`."""

    statement: Select[Any]
    parameters: dict[str, Any]


def candidate_query(
    technologies: list[str],
    industries: list[str],
    prefectures: list[str],
    employees: EmployeeRange | None,
    criteria: MatchingCriteria,
    weights: matching.MatchWeights,
    as_of: datetime,
    *,
    leading: bool = False,
) -> CandidateQuery:
    """The statement ranking a request's candidates (`candidate_statement`, the one of its shape) and the
    request's values as its parameters: the sought technologies, the factors' (`factor_parameters`: industries,
    prefectures and those of the same region, headcounts, when an update counts as recent, each factor's share),
    the officer's criteria (`criteria_parameters`) and `limit`."""
    shape = Shape(
        industries=bool(industries),
        prefectures=bool(prefectures),
        employees=employees is not None,
        leading=leading,
        criteria=CriteriaShape.of(criteria),
    )
    parameters = (
        {"technologies": sought_technologies(technologies), "limit": criteria.limit}
        | factor_parameters(industries, prefectures, employees, weights, as_of)
        | criteria_parameters(criteria)
    )
    return CandidateQuery(candidate_statement(shape), parameters)


SHAPES_KEPT = 32
"""How many shapes' statements are kept, the most recently used (each about 230 KB of Python objects, measured;
all 1,024 shapes would hold 176 MB): the requests without the officer's criteria come in 12 shapes."""


@functools.lru_cache(maxsize=SHAPES_KEPT)
def candidate_statement(shape: Shape) -> Select[Any]:
    """The top `limit` consenting SMEs meeting a bound and sharing a word with a sought technology, best first,
    for requests of one `shape`. Built once per shape (issue 15: building it took most of matching's CPU, several
    milliseconds a request); every value is a parameter, given at execution (`candidate_query`,
    `infra.candidate_field.bound_parameters`), so one statement serves every request of its shape and every bound
    it tries. With `shape.leading`, only among the SMEs whose corporate number is at most the parameter
    `leading_last` (a slice of the registry in the order that breaks ties in score, read through the primary key
    as well as the matching index: `activities.matching` says when its best are everyone's).

    Each row has the SME's id, name, prefecture, employees and certifications; each factor of
    `domain.matching.FACTORS`; the `score`; and, one entry per sought technology in the request's order,
    `exact` (named word for word?) and `matches` (its match value).

    `bounded` reads the SMEs meeting the bound (and the officer's criteria) through the matching index, once;
    `fits` scores and explains each kind of technologies in it (the same text, the same fit) against every
    sought technology, the ones sharing no word adding 0; `field` gives each SME its kind's fit and its other
    factors; `best` weighs them into the score and keeps the top few, explained by their kind — no second pass
    over the registry.
    """
    # Worked out once per execution (stemming, the query of each technology), not once per SME.
    named = sought().cte("sought").prefix_with("MATERIALIZED")
    bounded = (
        select(*[smes.c[name] for name in BOUNDED_COLUMNS])
        .where(*filters(shape.criteria, shape.leading))
        .cte("bounded")
        .prefix_with("MATERIALIZED")
    )
    # Each SME in the bound shares a word with a sought technology (the bound asks for one), so summing the
    # matches of every sought technology, those sharing no word adding 0, scores the same SMEs as a join on a
    # shared word would, without grouping thousands of joined rows back into SMEs.
    # An SME's technology fit depends only on its technologies (its `search` is made of them alone), and a bound
    # holds far fewer distinct technologies than SMEs (a few thousand of 30,000): each is scored once, for all the
    # SMEs naming it, instead of once per SME.
    kinds = (
        # `(array_agg(search))[1]`, not `any_value` (PostgreSQL 16 on): the same for equal texts, on 15 too
        select(bounded.c.technologies, func.array_agg(bounded.c.search)[1].label("search"))
        .group_by(bounded.c.technologies)
        .subquery("kinds")
    )
    # Each kind against each sought technology, once: the fit, and what explains it (named whole? its match),
    # carried with every SME of the kind, so the best few need no second pass over the registry to explain them.
    per_technology = (
        select(
            named.c.n,
            kinds.c.search.op("@@")(named.c.phrase).label("exact"),
            technology_match(named, kinds).label("match"),
        )
        .select_from(named)
        .correlate(kinds)
        .subquery("per_technology")
    )
    fitted = select(
        func.sum(per_technology.c.match).label("matched"),
        func.array_agg(aggregate_order_by(per_technology.c.exact, per_technology.c.n), type_=ARRAY(Boolean))
        .label("exact"),
        func.array_agg(aggregate_order_by(per_technology.c.match, per_technology.c.n), type_=ARRAY(Float))
        .label("matches"),
    ).lateral("fitted")
    fits = select(
        kinds.c.technologies,
        as_float(fitted.c.matched / func.cardinality(NAMED)).label("technology_fit"),
        fitted.c.exact,
        fitted.c.matches,
    ).select_from(kinds.join(fitted, true())).cte("fits").prefix_with("MATERIALIZED")
    field = (
        select(
            bounded.c.id,
            bounded.c.name,
            bounded.c.prefecture,
            bounded.c.employees,
            bounded.c.certifications,
            fits.c.exact,
            fits.c.matches,
            fits.c.technology_fit,
            as_float(industry(bounded) if shape.industries else literal(1.0)).label("industry"),
            as_float(region(bounded) if shape.prefectures else literal(1.0)).label("region"),
            as_float(size(bounded) if shape.employees else literal(1.0)).label("size_fit"),
            as_float(readiness(bounded)).label("readiness"),
        )
        .select_from(bounded.join(fits, fits.c.technologies == bounded.c.technologies))
        .cte("field")
    )
    score = weighted(lambda name: field.c[name])
    best = (
        select(field, as_float(score).label("score"))
        .order_by(*best_first(score, field.c.id))
        .limit(bindparam("limit", type_=Integer))
        .cte("best")
    )
    return select(best).order_by(*best_first(best.c.score, best.c.id))
