"""Which SMEs a matching request scores: the matching index's conditions, a bound's, the officer's criteria and the
leading slice, each value a parameter given at execution; and the small statements that size the field.

The bound's values come from `bound_parameters` (`infra.candidate_bounds` works them out), the officer's from
`criteria_parameters`; which of the officer's criteria are given (`CriteriaShape`) is all the conditions' text
depends on.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    Select,
    and_,
    any_,
    bindparam,
    cast,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY
from sqlalchemy.types import Boolean, Text

from domain.payloads import MatchingCriteria
from infra.candidate_bounds import Bound
from infra.candidate_tiers import EMPLOYEES_ANY, TIERS, Needs, Tier
from infra.tables import smes

EARLIEST = datetime(1, 1, 1, tzinfo=UTC)
"""`updated_since` of a bound that asks no recent update: earlier than any SME's."""


TERMS = bindparam("terms", type_=ARRAY(Text))
"""A bound's terms (`Bound.terms`), tsquery texts an SME meets one of: each a search of the matching index of its
own, their SMEs ORed in one bitmap."""


def in_the_field() -> list[ColumnElement[bool]]:
    """Consent, not closed, and one of the bound's terms (parameter `terms`): the conditions of the matching
    index."""
    return [
        smes.c.consent,
        smes.c.closed_on.is_(None),
        smes.c.match_terms.op("@@")(any_(cast(TERMS, ARRAY(TSQUERY)))),
    ]


def bound_parameters(bound: Bound) -> dict[str, Any]:
    """The values of a bound's conditions, as the scoring statement (`filters`) and `field_size_query` take them
    at execution."""
    parameters: dict[str, Any] = {
        "terms": list(bound.terms),
        "employees_min": bound.employees.min,
        "employees_max": bound.employees.max,
        "updated_since": bound.updated_since or EARLIEST,
        "bound_industries": list(bound.industries),
        "bound_abroad": bound.abroad,
        "bound_certified": bound.certified,
        "tiered": bool(bound.tiers),
    }
    # Every tier's condition takes values: a bound of fewer tiers repeats its last (of none, one never asked).
    listed = bound.tiers or (_UNASKED,)
    for n in range(TIERS):
        tier = listed[min(n, len(listed) - 1)]
        parameters |= {
            f"tier{n}_whole": tier.whole,
            f"tier{n}_industries": list(tier.needs.industries),
            f"tier{n}_abroad": tier.needs.abroad,
            f"tier{n}_certified": tier.needs.certified,
            f"tier{n}_since": tier.needs.updated_since or EARLIEST,
            f"tier{n}_min": tier.needs.employees.min,
            f"tier{n}_max": tier.needs.employees.max,
        }
    return parameters


_UNASKED = Tier("'unasked'", Needs((), False, False, None, EMPLOYEES_ANY))
"""The values of the tiers' conditions of a bound without tiers (`tiered` false: never evaluated)."""


def _needs(
    industries: Any, abroad: Any, certified: Any, since: Any, least: Any, most: Any
) -> list[ColumnElement[bool]]:
    """An SME's industry, readiness and size meet the needs given as these parameters (`infra.candidate_tiers.Needs`:
    industries, empty for any; whether a market abroad and a certification are needed; updated since; headcounts)."""
    return [
        smes.c.employees.between(least, most),
        smes.c.updated_at >= since,
        or_(func.cardinality(industries) == 0, smes.c.industries.overlap(cast(industries, smes.c.industries.type))),
        or_(~abroad, func.cardinality(smes.c.overseas_interest) > 0),
        or_(~certified, func.cardinality(smes.c.certifications) > 0),
    ]


def _tier(n: int) -> ColumnElement[bool]:
    """An SME meets tier `n` of the bound: its needs, then (the costlier test, asked last) the technologies whole."""
    return and_(
        *_needs(
            bindparam(f"tier{n}_industries", type_=ARRAY(Text)),
            bindparam(f"tier{n}_abroad", type_=Boolean),
            bindparam(f"tier{n}_certified", type_=Boolean),
            bindparam(f"tier{n}_since", type_=DateTime(timezone=True)),
            bindparam(f"tier{n}_min", type_=Integer),
            bindparam(f"tier{n}_max", type_=Integer),
        ),
        # `@@` by its function: an operator the planner would match to the index on `search` and read it for
        # each tier (47,064 SMEs at a time), where the test only has to check the few rows the bound reads.
        func.ts_match_vq(smes.c.search, cast(bindparam(f"tier{n}_whole", type_=Text), TSQUERY)),
    )


@dataclass(frozen=True)
class CriteriaShape:
    """Which of the officer's criteria (`domain.payloads.MatchingCriteria`) are given: each one given is a
    condition of `filters`, its value a parameter (`criteria_parameters`)."""

    industries: bool
    prefectures: bool
    min_employees: bool
    max_employees: bool
    certifications: bool
    overseas_interest: bool

    @classmethod
    def of(cls, criteria: MatchingCriteria) -> CriteriaShape:
        return cls(
            industries=bool(criteria.industries),
            prefectures=bool(criteria.prefectures),
            min_employees=criteria.min_employees is not None,
            max_employees=criteria.max_employees is not None,
            certifications=bool(criteria.certifications),
            overseas_interest=criteria.overseas_interest,
        )


def criteria_parameters(criteria: MatchingCriteria) -> dict[str, Any]:
    """The values of the officer's criteria that are given (`CriteriaShape`), as `filters` takes them."""
    parameters: dict[str, Any] = {}
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
    return parameters


def filters(criteria: CriteriaShape, leading: bool) -> list[ColumnElement[bool]]:
    """Consent and not closed (the condition of the matching index), the bound's conditions (parameters: their
    values, `bound_parameters`, come with each execution), the leading slice's last corporate number when
    `leading` (a parameter too, `leading_last`), and the officer's criteria (parameters `criteria_*`), which
    narrow the field and never add to it."""
    conditions: list[ColumnElement[bool]] = [
        *in_the_field(),
        *_needs(
            bindparam("bound_industries", type_=ARRAY(Text)),
            bindparam("bound_abroad", type_=Boolean),
            bindparam("bound_certified", type_=Boolean),
            bindparam("updated_since", type_=DateTime(timezone=True)),
            bindparam("employees_min", type_=Integer),
            bindparam("employees_max", type_=Integer),
        ),
        or_(~bindparam("tiered", type_=Boolean), *[_tier(n) for n in range(TIERS)]),
    ]
    if leading:
        # A range, not `id <= leading_last` alone: the slice's plan is made for any value (`activities.matching`),
        # and the planner guesses a third of the registry for one inequality, half a percent for a range. Guessing a
        # third (1.1 million at 3.4 million SMEs), it read every SME sharing the words from the table, 98,000 pages
        # for 56 in the slice (534 ms); guessing half a percent, it ANDs the matching index with the primary key's
        # range and reads the slice's 674 pages (60 ms). '' is below every corporate number.
        conditions.append(smes.c.id.between(literal("", Text), bindparam("leading_last", type_=Text)))
    if criteria.industries:
        conditions.append(smes.c.industries.overlap(bindparam("criteria_industries", type_=smes.c.industries.type)))
    if criteria.prefectures:
        conditions.append(smes.c.prefecture == any_(bindparam("criteria_prefectures", type_=ARRAY(Text))))
    if criteria.min_employees:
        conditions.append(smes.c.employees >= bindparam("criteria_min_employees", type_=Integer))
    if criteria.max_employees:
        conditions.append(smes.c.employees <= bindparam("criteria_max_employees", type_=Integer))
    if criteria.certifications:
        conditions.append(smes.c.certifications.contains(bindparam("criteria_certifications", type_=ARRAY(Text))))
    if criteria.overseas_interest:
        conditions.append(func.cardinality(smes.c.overseas_interest) > 0)
    return conditions


LEADING_LAST = select(smes.c.id).order_by(smes.c.id).offset(bindparam("skip", type_=Integer)).limit(1)
"""The `skip`+1-th smallest corporate number of the registry (executed with `skip`), read from the primary key
alone; None when the registry is smaller."""


FIELD_ESTIMATE = text(
    "EXPLAIN (FORMAT JSON) SELECT 1 FROM smes WHERE consent AND closed_on IS NULL "
    "AND match_terms @@ ANY(CAST(:terms AS tsquery[]))"
).bindparams(TERMS)
"""The planner's plan for reading the SMEs that meet a bound's `terms` through the matching index (the same
conditions as `field_size_query`): its top node's "Plan Rows" is how many it expects, from the statistics alone."""


@functools.cache
def field_size_query(cap: int) -> Select[Any]:
    """How many consenting, open SMEs share a word with a sought technology (executed with the `terms` of the
    bound of slack 1.0, the whole field), counted through the matching index up to `cap` + 1 (enough to tell
    "at most `cap`"). Built once per `cap`."""
    met = select(literal(1)).where(*in_the_field()).limit(cap + 1).subquery("met")
    return select(func.count()).select_from(met)
