"""Brazilian business days, for legal deadlines counted in "dias úteis" (the ANPD's 3 days)."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache


@cache
def _holidays(year: int) -> frozenset[date]:
    import holidays

    # national holidays only: a legal deadline is not moved by a local or banking holiday
    return frozenset(holidays.country_holidays("BR", years=year))


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _holidays(day.year)


def add_business_days(start: date, days: int) -> date:
    """The ``days``-th business day after ``start`` (``start`` itself does not count)."""
    day = start
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if is_business_day(day):
            remaining -= 1
    return day
