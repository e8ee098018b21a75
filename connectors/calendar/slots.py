"""Free slots from busy intervals: interval arithmetic, no I/O.

A window minus the busy intervals gives the free intervals; working hours (weekday ->
["HH:MM", "HH:MM"] in a time zone, a missing day is a day off) cut them further; slots
of ``slot`` length start on a grid of ``step`` anchored at the window's start.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

Interval = tuple[datetime, datetime]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_busy(entries: list[dict[str, Any]]) -> list[Interval]:
    return [(datetime.fromisoformat(str(entry["start"]).replace("Z", "+00:00")),
             datetime.fromisoformat(str(entry["end"]).replace("Z", "+00:00"))) for entry in entries]


def merged(intervals: list[Interval]) -> list[Interval]:
    result: list[Interval] = []
    for start, end in sorted(intervals):
        if result and start <= result[-1][1]:
            result[-1] = (result[-1][0], max(end, result[-1][1]))
        else:
            result.append((start, end))
    return result


def free_intervals(busy: list[Interval], start: datetime, end: datetime) -> list[Interval]:
    free, cursor = [], start
    for busy_start, busy_end in merged(busy):
        if busy_start > cursor:
            free.append((cursor, min(busy_start, end)))
        cursor = max(cursor, busy_end)
        if cursor >= end:
            break
    if cursor < end:
        free.append((cursor, end))
    return [(a, b) for a, b in free if b > a]


def working_intervals(hours: dict[str, list[str]], zone: ZoneInfo, start: datetime,
                      end: datetime) -> list[Interval]:
    """The working hours of each local day touching [start, end), as aware intervals."""
    day, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    result = []
    while day <= last:
        span = hours.get(WEEKDAYS[day.weekday()])
        if span:
            opens = datetime.combine(day, time.fromisoformat(span[0]), zone)
            closes = datetime.combine(day, time.fromisoformat(span[1]), zone)
            result.append((max(opens, start), min(closes, end)))
        day += timedelta(days=1)
    return [(a, b) for a, b in result if b > a]


def intersect(first: list[Interval], second: list[Interval]) -> list[Interval]:
    result, i, j = [], 0, 0
    while i < len(first) and j < len(second):
        start, end = max(first[i][0], second[j][0]), min(first[i][1], second[j][1])
        if end > start:
            result.append((start, end))
        if first[i][1] < second[j][1]:
            i += 1
        else:
            j += 1
    return result


def slots(free: list[Interval], anchor: datetime, length: timedelta, step: timedelta,
          limit: int) -> list[Interval]:
    """Slots of ``length`` inside the free intervals, starting on the ``anchor + n*step`` grid."""
    result: list[Interval] = []
    for start, end in free:
        steps = -(-(start - anchor) // step)  # ceiling: the first grid point at or after start
        cursor = anchor + steps * step
        while cursor + length <= end and len(result) < limit:
            result.append((cursor, cursor + length))
            cursor += step
    return result
