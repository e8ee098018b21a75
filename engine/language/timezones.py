"""Time zone names, checked against the IANA database."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from engine.language.problems import did_you_mean


def check_timezone(name: str) -> str:
    """Return ``name`` when it is a known IANA zone; raise ``ValueError`` with a hint otherwise."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        hint = did_you_mean(name, available_timezones()) or "use an IANA name like 'America/Sao_Paulo'"
        raise ValueError(f"unknown time zone '{name}' ({hint})") from exc
    return name
