"""The Japanese business-day clock service levels are counted on.

Closed: Saturdays, Sundays, Japanese public holidays (the `holidays` package) and the 29 Dec – 3 Jan
closure that Japanese public bodies observe. Days are Tokyo days; Japan keeps no daylight saving, so a
fixed +09:00 offset is exact (and needs no time-zone database inside a workflow sandbox).
"""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta, timezone

import holidays

TOKYO = timezone(timedelta(hours=9), "JST")


# Read once at import: building a holiday set reads translation files, which a workflow may not do.
FIRST_YEAR, LAST_YEAR = 2000, 2100
_EVE = date(FIRST_YEAR - 1, 12, 31)
PUBLIC_HOLIDAYS: frozenset[date] = frozenset(holidays.country_holidays("JP", years=range(FIRST_YEAR, LAST_YEAR + 1)))


def _public_holidays(year: int) -> frozenset[date]:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"the business calendar covers {FIRST_YEAR}-{LAST_YEAR}, not {year}")
    return PUBLIC_HOLIDAYS


def is_year_end_closure(day: date) -> bool:
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and not is_year_end_closure(day) and day not in _public_holidays(day.year)


def tokyo_day(at: datetime) -> date:
    return at.astimezone(TOKYO).date()


def next_business_day(day: date) -> date:
    day += timedelta(days=1)
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def add_business_days(at: datetime, n: int) -> datetime:
    """The same Tokyo time of day, N business days later (N whole days, not N×24 hours).

    Counting starts on the day after `at`, so an instant on a closed day counts from the next open one.
    """
    if n < 0:
        raise ValueError("n must not be negative")
    local = at.astimezone(TOKYO)
    day = local.date()
    for _ in range(n):
        day = next_business_day(day)
    return datetime.combine(day, local.timetz()).astimezone(at.tzinfo)


def business_days_between(start: datetime, end: datetime) -> int:
    """Business days d with start's Tokyo day < d <= end's Tokyo day (0 when end is not later).

    Two lookups in running counts, whatever the span: a service-level report counts this for every stage visit
    of a fiscal year (100,000 visits took seconds counted day by day). ValueError for a day outside the
    calendar's years, as `is_business_day`."""
    first, last = tokyo_day(start), tokyo_day(end)
    return _open_days_through(last) - _open_days_through(first) if last > first else 0


def _open_days_through(day: date) -> int:
    """Business days from 1 January `FIRST_YEAR` through `day` (0 through the day before: a span may start there,
    counting none of its days)."""
    if day == _EVE:
        return 0
    return _open_days_before_year(day.year) + _running_count(day.year)[day.toordinal() - _new_year(day.year)]


@functools.cache
def _new_year(year: int) -> int:
    return date(year, 1, 1).toordinal()


@functools.cache
def _running_count(year: int) -> tuple[int, ...]:
    """For each day of `year` (1 January first), the business days from 1 January through it."""
    _public_holidays(year)  # a year outside the calendar is refused
    day, count, counts = date(year, 1, 1), 0, []
    while day.year == year:
        count += is_business_day(day)
        counts.append(count)
        day += timedelta(days=1)
    return tuple(counts)


@functools.cache
def _open_days_before_year(year: int) -> int:
    """Business days from 1 January `FIRST_YEAR` up to (not including) 1 January `year`."""
    _public_holidays(year)
    return sum(_running_count(y)[-1] for y in range(FIRST_YEAR, year))
