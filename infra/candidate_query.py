"""The matching engine's one SQL query: every factor of `domain.matching`, computed where the SMEs are.

Ranking 100,000 SMEs in Python would mean fetching them; instead PostgreSQL picks the SMEs sharing at least
one word with a sought technology (GIN full-text index on `smes.search`), scores each with the same factor
definitions as `domain.matching` (tests/test_matching.py checks every factor against them) and returns only
the top few with their factors.

The query has the same text whatever is sought: the technologies travel as one bound array, and PostgreSQL
reads them (stemming, phrase queries, telling words) row by row from `unnest`. The text depends only on which
of the request's and the officer's criteria are given, never on how many technologies or words there are, so
a long request cannot make it deeper (building it once overflowed Python's recursion limit).

Every statement is built once (per `Shape`, for the scoring one), every value of a request or a bound a
parameter given at execution, as `activities.records` builds its statements (issue 15): building and keying the
scoring statement anew took most of matching's CPU in the worker (500 requests of the bench's shapes on 20,000
SMEs: 14–20 ms of the client's CPU a request, 5–6 ms with the statements kept).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    CTE,
    BindParameter,
    ColumnElement,
    DateTime,
    Float,
    FromClause,
    Integer,
    Select,
    TextualSelect,
    any_,
    bindparam,
    case,
    cast,
    column,
    func,
    literal,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY, aggregate_order_by
from sqlalchemy.types import Boolean, Text

from domain import matching
from domain.folding import words
from domain.model import EmployeeRange
from domain.payloads import MatchingCriteria
from infra.candidate_bounds import Bound
from infra.tables import smes

BOUNDED_COLUMNS = (
    "id", "name", "prefecture", "employees", "certifications", "industries", "overseas_interest", "updated_at",
    "technologies", "search",
)
"""What scoring reads of an SME."""
EARLIEST = datetime(1, 1, 1, tzinfo=UTC)

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


def _sought() -> TextualSelect:
    """`SOUGHT` with its parameters: the sought technologies (`NAMED`, given at execution) and `GENERIC_WORDS`."""
    return SOUGHT.bindparams(NAMED, generic_words=matching.GENERIC_WORDS)


def _as_float(expression: ColumnElement[Any]) -> ColumnElement[float]:
    return cast(expression, Float)


def _texts(name: str) -> BindParameter[Any]:
    """One `text[]` parameter called `name`, however many values."""
    return bindparam(name, type_=ARRAY(Text))


def technology_match(sought: CTE, sme: FromClause = smes) -> ColumnElement[float]:
    """One sought technology's match with one SME, as `domain.matching.technology_match` defines it."""
    exact = sme.c.search.op("@@")(sought.c.phrase)
    telling = func.cardinality(sought.c.words)
    # The SME's lexemes among the telling words: all of them, less those left once the telling words are deleted.
    found = func.length(sme.c.search) - func.length(func.ts_delete(sme.c.search, sought.c.words))
    return _as_float(
        case(
            (exact, literal(matching.EXACT)),
            (telling < 2, literal(0.0)),  # a technology of one telling word is named whole or not at all
            else_=matching.PARTIAL * _as_float(found) / _as_float(telling),
        )
    )


def _region(sme: FromClause) -> ColumnElement[float]:
    """1 in a sought prefecture (parameter `prefectures`), SAME_REGION in one of their region (`nearby`), else 0."""
    return case(
        (sme.c.prefecture == any_(_texts("prefectures")), literal(1.0)),
        (sme.c.prefecture == any_(_texts("nearby")), literal(matching.SAME_REGION)),
        else_=literal(0.0),
    )


def _size(sme: FromClause) -> ColumnElement[float]:
    """The size fit against the sought range: parameters `size_min` and `size_max` (headcounts), and the same as
    doubles, `size_min_float` and `size_max_float`, which the fall-off divides by and into."""
    employees = _as_float(sme.c.employees)
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


def _readiness(sme: FromClause) -> ColumnElement[float]:
    """Readiness, an update counting as recent from the parameter `fresh_since` on."""
    def held(column: Any) -> ColumnElement[float]:
        return _as_float(cast(func.cardinality(column) > 0, Integer))

    fresh = _as_float(cast(sme.c.updated_at >= bindparam("fresh_since", type_=sme.c.updated_at.type), Integer))
    return 0.5 * held(sme.c.overseas_interest) + 0.25 * held(sme.c.certifications) + 0.25 * fresh


def _in_the_field() -> list[ColumnElement[bool]]:
    """Consent, not closed, and the bound's terms: the conditions of the matching index."""
    return [
        smes.c.consent,
        smes.c.closed_on.is_(None),
        smes.c.match_terms.op("@@")(cast(bindparam("terms", type_=Text), TSQUERY)),
    ]


def bound_parameters(bound: Bound) -> dict[str, Any]:
    """The values of a bound's conditions, as `candidate_query`'s statement and `field_size_query` take them at
    execution."""
    return {
        "terms": bound.terms,
        "employees_min": bound.employees.min,
        "employees_max": bound.employees.max,
        "updated_since": bound.updated_since or EARLIEST,
        "bound_industries": list(bound.industries),
        "bound_abroad": bound.abroad,
        "bound_certified": bound.certified,
    }


@dataclass(frozen=True)
class Shape:
    """What the text of a request's scoring statement depends on: which of the request's (`industries`,
    `prefectures`, `employees`) and the officer's criteria (`criteria_*`) are given, and whether it is asked
    among the leading slice. Never the values, nor how many technologies or words are sought: those are
    parameters (`candidate_query`)."""

    industries: bool
    prefectures: bool
    employees: bool
    leading: bool
    criteria_industries: bool
    criteria_prefectures: bool
    criteria_min_employees: bool
    criteria_max_employees: bool
    criteria_certifications: bool
    criteria_overseas_interest: bool


def _filters(shape: Shape) -> list[ColumnElement[bool]]:
    """Consent and not closed (the condition of the matching index), the bound's conditions (parameters: their
    values, `bound_parameters`, come with each execution), the leading slice's last corporate number when
    `leading` (a parameter too, `leading_last`), and the officer's criteria (parameters `criteria_*`), which
    narrow the field and never add to it."""
    filters: list[ColumnElement[bool]] = [
        *_in_the_field(),
        smes.c.employees.between(bindparam("employees_min", type_=Integer), bindparam("employees_max", type_=Integer)),
        smes.c.updated_at >= bindparam("updated_since", type_=DateTime(timezone=True)),
    ]
    needed = bindparam("bound_industries", type_=ARRAY(Text))
    filters += [
        or_(func.cardinality(needed) == 0, smes.c.industries.overlap(cast(needed, smes.c.industries.type))),
        or_(~bindparam("bound_abroad", type_=Boolean), func.cardinality(smes.c.overseas_interest) > 0),
        or_(~bindparam("bound_certified", type_=Boolean), func.cardinality(smes.c.certifications) > 0),
    ]
    if shape.leading:
        filters.append(smes.c.id <= bindparam("leading_last", type_=Text))
    if shape.criteria_industries:
        filters.append(smes.c.industries.overlap(bindparam("criteria_industries", type_=smes.c.industries.type)))
    if shape.criteria_prefectures:
        filters.append(smes.c.prefecture == any_(_texts("criteria_prefectures")))
    if shape.criteria_min_employees:
        filters.append(smes.c.employees >= bindparam("criteria_min_employees", type_=Integer))
    if shape.criteria_max_employees:
        filters.append(smes.c.employees <= bindparam("criteria_max_employees", type_=Integer))
    if shape.criteria_certifications:
        filters.append(smes.c.certifications.contains(_texts("criteria_certifications")))
    if shape.criteria_overseas_interest:
        filters.append(func.cardinality(smes.c.overseas_interest) > 0)
    return filters


def _weighted(factor: Callable[[str], Any]) -> Any:
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


def _best_first(score: ColumnElement[float], sme_id: ColumnElement[str]) -> list[ColumnElement[Any]]:
    """Higher scores first, equal scores by corporate number. Scores are compared to 9 decimal places: the same
    score reached by different sums (factors adding up to it in different ways, or technology matches added in
    another order) may differ in the last bits of a double, and that is no reason to put the higher corporate
    number first."""
    return [func.round(score * 1e9).desc(), sme_id]


class CandidateQuery(NamedTuple):
    """A request's scoring statement (one per `Shape`, built once) and the request's values for it; each
    execution adds a bound's (`bound_parameters`) and, among the leading slice, `leading_last`."""

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
    request's values as its parameters: the sought technologies, industries, prefectures (and those of the
    same region) and headcounts, when an update counts as recent (`as_of` less `FRESH_FOR`), each factor's
    share of the score, the officer's criteria and `limit`."""
    shape = Shape(
        industries=bool(industries),
        prefectures=bool(prefectures),
        employees=employees is not None,
        leading=leading,
        criteria_industries=bool(criteria.industries),
        criteria_prefectures=bool(criteria.prefectures),
        criteria_min_employees=criteria.min_employees is not None,
        criteria_max_employees=criteria.max_employees is not None,
        criteria_certifications=bool(criteria.certifications),
        criteria_overseas_interest=criteria.overseas_interest,
    )
    share = weights.normalised()
    parameters: dict[str, Any] = {
        "technologies": sought_technologies(technologies),
        "fresh_since": as_of - matching.FRESH_FOR,
        "limit": criteria.limit,
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
    if criteria.industries:
        parameters["criteria_industries"] = criteria.industries
    if criteria.prefectures:
        parameters["criteria_prefectures"] = criteria.prefectures
    if criteria.min_employees is not None:
        parameters["criteria_min_employees"] = criteria.min_employees
    if criteria.max_employees is not None:
        parameters["criteria_max_employees"] = criteria.max_employees
    if criteria.certifications:
        parameters["criteria_certifications"] = criteria.certifications
    return CandidateQuery(candidate_statement(shape), parameters)


SHAPES_KEPT = 32
"""How many shapes' statements are kept, the most recently used (each about 230 KB of Python objects, measured;
all 1,024 shapes would hold 176 MB): the requests without the officer's criteria come in 12 shapes."""


@functools.lru_cache(maxsize=SHAPES_KEPT)
def candidate_statement(shape: Shape) -> Select[Any]:
    """The top `limit` consenting SMEs meeting a bound and sharing a word with a sought technology, best first,
    for requests of one `shape`. Built once per shape (issue 15: building it took most of matching's CPU, several
    milliseconds a request); every value is a parameter, given at execution (`candidate_query`, `bound_parameters`),
    so one statement serves every request of its shape and every bound it tries. With `shape.leading`, only among
    the SMEs whose corporate number is at most the parameter `leading_last` (a slice of the registry in the order
    that breaks ties in score, read through the primary key as well as the matching index: `activities.matching`
    says when its best are everyone's).

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
    sought = _sought().cte("sought").prefix_with("MATERIALIZED")
    bounded = (
        select(*[smes.c[name] for name in BOUNDED_COLUMNS])
        .where(*_filters(shape))
        .cte("bounded")
        .prefix_with("MATERIALIZED")
    )
    industry = (
        case(
            (bounded.c.industries.overlap(bindparam("industries", type_=smes.c.industries.type)), literal(1.0)),
            else_=literal(0.0),
        )
        if shape.industries
        else literal(1.0)
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
            sought.c.n,
            kinds.c.search.op("@@")(sought.c.phrase).label("exact"),
            technology_match(sought, kinds).label("match"),
        )
        .select_from(sought)
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
        _as_float(fitted.c.matched / func.cardinality(NAMED)).label("technology_fit"),
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
            _as_float(industry).label("industry"),
            _as_float(_region(bounded) if shape.prefectures else literal(1.0)).label("region"),
            _as_float(_size(bounded) if shape.employees else literal(1.0)).label("size_fit"),
            _as_float(_readiness(bounded)).label("readiness"),
        )
        .select_from(bounded.join(fits, fits.c.technologies == bounded.c.technologies))
        .cte("field")
    )
    weighted = _weighted(lambda name: field.c[name])
    best = (
        select(field, _as_float(weighted).label("score"))
        .order_by(*_best_first(weighted, field.c.id))
        .limit(bindparam("limit", type_=Integer))
        .cte("best")
    )
    return select(best).order_by(*_best_first(best.c.score, best.c.id))


LEADING_LAST = select(smes.c.id).order_by(smes.c.id).offset(bindparam("skip", type_=Integer)).limit(1)
"""The `skip`+1-th smallest corporate number of the registry (executed with `skip`), read from the primary key
alone; None when the registry is smaller."""


FIELD_ESTIMATE = text(
    "EXPLAIN (FORMAT JSON) SELECT 1 FROM smes WHERE consent AND closed_on IS NULL "
    "AND match_terms @@ CAST(:terms AS tsquery)"
)
"""The planner's plan for reading the SMEs that meet a bound's `terms` through the matching index (the same
conditions as `field_size_query`): its top node's "Plan Rows" is how many it expects, from the statistics alone."""


@functools.cache
def field_size_query(cap: int) -> Select[Any]:
    """How many consenting, open SMEs share a word with a sought technology (executed with the `terms` of the
    bound of slack 1.0, the whole field), counted through the matching index up to `cap` + 1 (enough to tell
    "at most `cap`"). Built once per `cap`."""
    met = select(literal(1)).where(*_in_the_field()).limit(cap + 1).subquery("met")
    return select(func.count()).select_from(met)


def _sought_words() -> Select[Any]:
    sought = _sought().subquery("sought")
    return select(cast(sought.c.phrase, Text).label("phrase"), sought.c.words).order_by(sought.c.n)


SOUGHT_WORDS = _sought_words()
"""Each sought technology's `phrase` (tsquery text) and telling `words`, in the request's order (executed with
`technologies`: `sought_technologies`)."""
