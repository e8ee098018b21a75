"""Quiet hours: when a run would start inside the window, it is held until the window ends.

Shared by the planner (through ``engine.runtime.quiet_hours``) and dry-run.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from engine.language.models import QuietHours
from engine.language.recipients import recipient_zone


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def held_until(quiet: QuietHours, now: datetime, zone: str) -> datetime | None:
    """The end of the quiet window containing ``now``, or ``None`` when ``now`` is outside it.

    Windows may cross midnight (21:00 to 08:00). Times are wall-clock times
    in ``zone``, so a window keeps its meaning across daylight-saving changes.
    """
    local = now.astimezone(ZoneInfo(zone))
    start, end = _clock(quiet.from_), _clock(quiet.to)
    today = local.time()
    if start == end:
        return None
    if start < end:
        inside = start <= today < end
        end_day = local.date()
    else:
        inside = today >= start or today < end
        end_day = local.date() + timedelta(days=1) if today >= start else local.date()
    if not inside:
        return None
    release = datetime.combine(end_day, end, tzinfo=ZoneInfo(zone))
    return release.astimezone(now.tzinfo)


def hold_zone(quiet: QuietHours, data: dict[str, Any], default: str) -> str:
    """The zone a window is read in, as the runtime reads it (``engine.language.recipients``): the
    recipient's ``time_zone``, else the rule's ``time_zone``, else ``default``."""
    return recipient_zone(data, quiet.recipient, quiet.time_zone or default).zone

