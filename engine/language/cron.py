"""Cron expressions as admins know them, on APScheduler 3.

APScheduler's ``CronTrigger.from_crontab`` numbers weekdays from Monday = 0,
so ``1-5`` would fire Tuesday to Saturday. Standard cron numbers them from
Sunday = 0 (7 is Sunday too); weekday numbers are rewritten as names first.
"""

from __future__ import annotations

from apscheduler.triggers.cron import CronTrigger

_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def cron_trigger(expression: str, timezone: str) -> CronTrigger:
    """An APScheduler trigger with standard cron semantics; raises ``ValueError``."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"a cron expression has 5 fields (minute hour day month weekday), got {len(fields)}")
    minute, hour, day, month, weekday = fields
    return CronTrigger(minute=minute, hour=hour, day=day, month=month,
                       day_of_week=standard_weekdays(weekday), timezone=timezone)


def standard_weekdays(field: str) -> str:
    """Rewrite the weekday field with names: ``1-5`` -> ``mon,tue,wed,thu,fri``."""
    return ",".join(_part(part) for part in field.split(","))


def _part(part: str) -> str:
    base, _, step_text = part.partition("/")
    if not any(c.isdigit() for c in base) and not step_text:
        return part  # names and '*' mean the same in both conventions
    step = int(step_text) if step_text else 1
    if base == "*":
        first, last = 0, 6
    elif "-" in base:
        first, last = (_number(x) for x in base.split("-", 1))
    else:
        first = _number(base)
        last = 6 if step_text else first
    if step < 1 or first > last:
        raise ValueError(f"invalid weekday range '{part}'")
    return ",".join(_NAMES[d % 7] for d in range(first, last + 1, step))


def _number(text: str) -> int:
    if text.isdigit():
        value = int(text)
        if value > 7:
            raise ValueError(f"weekday {value} is out of range (0-7, 0 and 7 are Sunday)")
        return value
    if text.lower()[:3] in _NAMES:
        return _NAMES.index(text.lower()[:3])
    raise ValueError(f"unknown weekday '{text}'")
