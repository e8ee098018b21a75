"""Brazilian banking days: a boleto cannot fall due on a weekend or a national holiday."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache


@cache
def _holidays(year: int) -> set[date]:
    import holidays

    # national holidays, plus the exchange's calendar for what banks also close on (Carnival)
    national = holidays.country_holidays("BR", years=year)
    exchange = holidays.financial_holidays("BVMF", years=year)
    return set(national) | set(exchange)


def is_banking_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _holidays(day.year)


def next_banking_day(day: date) -> date:
    """``day`` itself when banks open on it, else the first day after it when they do."""
    while not is_banking_day(day):
        day += timedelta(days=1)
    return day
