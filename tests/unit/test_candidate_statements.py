"""Matching's scoring statement is built once per shape of request and takes every value of a request as a
parameter (issue 15). Pure tests: statements are built and compiled, never sent (tests/integration/
test_matching.py ranks with them on PostgreSQL, against statements built afresh).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from domain.filing import EmployeeRange
from domain.matching import MatchWeights
from domain.payloads import MatchingCriteria
from infra.candidate_bounds import Bound
from infra.candidate_field import bound_parameters
from infra.candidate_query import candidate_query

NOW = datetime(2026, 11, 2, tzinfo=UTC)
BOUND = Bound(0.9, ("'sensor'",), EmployeeRange(min=1, max=500), NOW - timedelta(days=365), ("E",), True, True)


def _criteria(given: tuple[bool, ...], limit: int) -> MatchingCriteria:
    industries, prefectures, least, most, certifications, abroad = given
    return MatchingCriteria(
        industries=["E"] if industries else None,
        prefectures=["Aichi"] if prefectures else None,
        min_employees=10 if least else None,
        max_employees=900 if most else None,
        certifications=["ISO 9001"] if certifications else None,
        overseas_interest=abroad,
        limit=limit,
    )


def test_requests_of_one_shape_share_one_statement_and_others_do_not() -> None:
    """Two requests differing in every value but not in which criteria they give get the very same statement
    object; giving one more criterion, or asking among the leading slice, gets another."""
    first = candidate_query(
        ["precision machining"], ["E"], ["Aichi"], EmployeeRange(min=20, max=300), MatchingCriteria(limit=20),
        MatchWeights(), NOW,
    )
    second = candidate_query(
        ["MEMS sensors", "robot vision", "die casting"], ["G", "I"], ["Osaka", "Kyoto"],
        EmployeeRange(min=1, max=50), MatchingCriteria(limit=5), MatchWeights(technology_fit=0.2, region=0.4),
        NOW + timedelta(days=40),
    )
    assert second.statement is first.statement
    assert first.parameters != second.parameters
    others = [
        candidate_query(["sensors"], [], ["Aichi"], EmployeeRange(min=20, max=300), MatchingCriteria(), MatchWeights(),
                        NOW),
        candidate_query(["sensors"], ["E"], ["Aichi"], EmployeeRange(min=20, max=300), MatchingCriteria(),
                        MatchWeights(), NOW, leading=True),
        candidate_query(["sensors"], ["E"], ["Aichi"], EmployeeRange(min=20, max=300),
                        MatchingCriteria(overseas_interest=True), MatchWeights(), NOW),
    ]
    assert len({id(query.statement) for query in [first, *others]}) == 4


def test_every_value_the_statement_needs_comes_with_the_request_or_the_bound() -> None:
    """For every combination of the request's criteria given, in or out of the leading slice, with none, all or
    one of the officer's criteria: the parameters the statement requires (those without a value of their own) are
    exactly those `candidate_query` and `bound_parameters` give (and `leading_last` in the slice), so no request's
    value can be left in a kept statement, and none given is ignored."""
    for request in itertools.product([False, True], repeat=4):
        industries, prefectures, employees, leading = request
        for given in [(False,) * 6, (True,) * 6, *[tuple(n == one for n in range(6)) for one in range(6)]]:
            query = candidate_query(
                ["precision machining", "sensors"], ["E"] if industries else [], ["Aichi"] if prefectures else [],
                EmployeeRange(min=20, max=300) if employees else None, _criteria(given, 20), MatchWeights(), NOW,
                leading=leading,
            )
            compiled = query.statement.compile()
            required = {name for name, bind in compiled.binds.items() if bind.required}
            expected = set(query.parameters) | set(bound_parameters(BOUND)) | ({"leading_last"} if leading else set())
            assert required == expected, (request, given)
