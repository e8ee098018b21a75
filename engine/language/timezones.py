"""Time zone names, checked against the IANA database.

An offset written as a zone (``UTC-3``, ``GMT-3``, ``UTC+01:00``, ``-03:00``)
is refused with the IANA names that have that offset now: an offset ignores
daylight saving, a name does not. Brazilian zones come first (the company's
own); the list stays short.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from engine.language.problems import did_you_mean

_OFFSET = re.compile(r"^\s*(?:UTC|GMT|Z)?\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?\s*$", re.IGNORECASE)
_FIRST_ZONE = "America/Sao_Paulo"  # the configured zone's default
_FIRST_COUNTRY = "BR"
_SHOWN = 5


def check_timezone(name: str) -> str:
    """Return ``name`` when it is a known IANA zone; raise ``ValueError`` with a hint otherwise."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        hint = _offset_hint(name) or did_you_mean(name, available_timezones()) or (
            "use an IANA name like 'America/Sao_Paulo'")
        raise ValueError(f"unknown time zone '{name}' ({hint})") from exc
    return name


def _offset_hint(name: str) -> str | None:
    match = _OFFSET.match(name[:20])
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    offset = timedelta(hours=int(hours), minutes=int(minutes or 0)) * (-1 if sign == "-" else 1)
    zones = zones_with_offset(offset)
    if not zones:
        return "use an IANA name like 'America/Sao_Paulo', not an offset"
    more = ", ..." if len(zones) > _SHOWN else ""
    return f"an offset is not a time zone; zones at {name.strip()} now: {', '.join(zones[:_SHOWN])}{more}"


def zones_with_offset(offset: timedelta, at: datetime | None = None) -> list[str]:
    """Canonical zone names whose UTC offset is ``offset`` at ``at`` (now), Brazil's first."""
    moment = at or datetime.now(UTC)
    found = [(country, zone) for country, zone in _canonical_zones()
             if moment.astimezone(ZoneInfo(zone)).utcoffset() == offset]
    ranked = sorted(found, key=lambda item: (item[1] != _FIRST_ZONE, item[0] != _FIRST_COUNTRY, item[1]))
    return [zone for _, zone in ranked]


@cache
def _canonical_zones() -> tuple[tuple[str, str], ...]:
    """(first country code, zone) from tzdata's zone1970.tab; every Area/City zone if it is missing."""
    try:
        text = resources.files("tzdata").joinpath("zoneinfo/zone1970.tab").read_text(encoding="utf-8")
    except (ModuleNotFoundError, OSError):
        return tuple(("", zone) for zone in sorted(available_timezones())
                     if "/" in zone and not zone.startswith(("Etc/", "SystemV/")))
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    return tuple((row[0].split(",")[0], row[2]) for row in rows if len(row) >= 3)
