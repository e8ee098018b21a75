"""Whose clock a message keeps: the recipient in an event's data and the time zone they live in.

The recipient is ``data.<role>`` when a rule names the role (``quiet_hours:
{recipient: technician}``), else ``data.customer``, else ``data.technician``:
the records the store puts in every event payload (``store.payloads``). Their
``time_zone`` is used when it names a known zone; otherwise the rule's own
``time_zone``, otherwise the configured one, and the reason is kept so the
run can say why it did not use the recipient's. Data is event data: a zone
name is looked up, never trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ROLES = ("customer", "technician")
_MAX_ZONE_NAME = 64  # the column's size; a longer name is no zone


@dataclass(frozen=True, slots=True)
class RecipientZone:
    zone: str
    role: str | None  # whose record gave the zone; None: nobody's (the fallback)
    problem: str | None = None  # why the recipient's own zone was not used, when it was unusable

    def clock(self, now: datetime) -> dict[str, Any]:
        """The ``recipient`` variable of conditions and templates: the recipient's local clock, to the
        minute (so it is computed once a minute per zone, not once per event)."""
        return _clock(self.zone, int(now.timestamp()) // 60)


@lru_cache(maxsize=256)
def _clock(zone: str, minute: int) -> dict[str, Any]:
    local = datetime.fromtimestamp(minute * 60, zone_info(zone))
    return {"time_zone": zone, "now": local.isoformat(timespec="minutes"), "time": local.strftime("%H:%M"),
            "weekday": local.isoweekday()}


@lru_cache(maxsize=1024)
def _known(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def zone_info(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def known_zone(name: object) -> bool:
    return isinstance(name, str) and 0 < len(name) <= _MAX_ZONE_NAME and _known(name)


def recipient_zone(data: dict[str, Any], role: str | None, fallback: str) -> RecipientZone:
    """The zone of the recipient of ``data``; ``fallback`` when they have no usable one."""
    for name in (role,) if role else ROLES:
        record = data.get(name)
        if not isinstance(record, dict):
            continue
        zone = record.get("time_zone")
        if known_zone(zone):
            return RecipientZone(str(zone), name)
        if zone in (None, ""):
            return RecipientZone(fallback, None)
        shown = repr(zone)[:80]
        return RecipientZone(fallback, None, f"{name} time_zone {shown} is not a known zone")
    return RecipientZone(fallback, None)
