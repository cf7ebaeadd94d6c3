"""The Japanese business-day clock: known closed days, and properties that hold for every instant."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.calendar import TOKYO, add_business_days, business_days_between, is_business_day, tokyo_day

instants = st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2095, 12, 31), timezones=st.just(TOKYO))


def test_known_closed_and_open_days() -> None:
    closed = [date(2026, 5, 4), date(2026, 5, 6), date(2026, 12, 29), date(2027, 1, 3), date(2027, 1, 11),
              date(2026, 11, 28), date(2026, 11, 23), date(2026, 9, 22)]
    open_ = [date(2026, 12, 28), date(2027, 1, 4), date(2026, 11, 26), date(2026, 5, 7)]
    assert not any(is_business_day(d) for d in closed)
    assert all(is_business_day(d) for d in open_)


def test_n_business_days_are_whole_days_not_hours() -> None:
    friday_evening = datetime(2026, 11, 27, 18, 30, tzinfo=TOKYO)
    assert add_business_days(friday_evening, 1) == datetime(2026, 11, 30, 18, 30, tzinfo=TOKYO)
    before_golden_week = datetime(2027, 4, 28, 9, 0, tzinfo=TOKYO)  # Showa Day is the 29th
    assert add_business_days(before_golden_week, 2).date() == date(2027, 5, 6)  # 30 Apr, then 6 May


@given(instants, st.integers(min_value=1, max_value=60))
def test_adding_business_days_never_lands_on_a_closed_day(at: datetime, n: int) -> None:
    assert is_business_day(tokyo_day(add_business_days(at, n)))


@given(instants, st.integers(min_value=0, max_value=60))
def test_counting_back_gives_n(at: datetime, n: int) -> None:
    assert business_days_between(at, add_business_days(at, n)) == n


@given(instants, st.integers(min_value=0, max_value=30), st.integers(min_value=0, max_value=30))
def test_adding_is_additive_and_keeps_the_time_of_day(at: datetime, a: int, b: int) -> None:
    once = add_business_days(at, a + b)
    assert add_business_days(add_business_days(at, a), b) == once
    assert once.timetz() == at.timetz()


@given(instants, st.integers(min_value=0, max_value=400))
def test_business_days_between_counts_open_days(start: datetime, days: int) -> None:
    end = start + timedelta(days=days)
    expected = sum(is_business_day(tokyo_day(start) + timedelta(days=i)) for i in range(1, days + 1))
    assert business_days_between(start, end) == expected


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2089, 12, 31), timezones=st.just(TOKYO)),
       st.integers(min_value=400, max_value=4000))
def test_spans_of_years_count_every_open_day(start: datetime, days: int) -> None:
    """The running counts behind `business_days_between` hold across year ends and many years."""
    end = start + timedelta(days=days)
    expected = sum(is_business_day(tokyo_day(start) + timedelta(days=i)) for i in range(1, days + 1))
    assert business_days_between(start, end) == expected


def test_a_day_outside_the_calendar_is_refused() -> None:
    with pytest.raises(ValueError, match="2000-2100"):
        business_days_between(datetime(2026, 4, 1, tzinfo=TOKYO), datetime(2101, 1, 5, tzinfo=TOKYO))


def test_a_span_may_start_the_day_before_the_calendar() -> None:
    """Seen: from 31 December 1999 (Tokyo) to 5 January 2000 raised ValueError (no 1999 in the calendar),
    though none of its counted days (those after the start) is in 1999; counted day by day it is 2."""
    start, end = datetime(1999, 12, 31, 12, tzinfo=TOKYO), datetime(2000, 1, 5, tzinfo=TOKYO)
    assert business_days_between(start, end) == sum(is_business_day(date(2000, 1, d)) for d in range(1, 6)) == 2
    with pytest.raises(ValueError, match="1999"):
        business_days_between(datetime(1999, 12, 30, tzinfo=TOKYO), end)
