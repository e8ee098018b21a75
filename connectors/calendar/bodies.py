"""Action params as the Calendar v3 event body: one function used by dry-run and by the real call.

Times: an ISO string with an offset is kept as that instant; without one it is read in
the event's zone. The zone (``timeZone`` of start and end) is the action's ``time_zone``,
else ``connectors.calendar.calendar_time_zone``, else the technician's ``time_zone``,
else the configured ``timezone``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.base import PermanentError
from connectors.calendar.params import EventFields

APPOINTMENT_PROPERTY = "despacho_appointment_id"
MAX_WINDOW_DAYS = 31


def zone(name: str, field: str = "time_zone") -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PermanentError(f"{field}: unknown time zone '{name}'", code="invalid_time") from exc


def parse_time(value: str, field: str, time_zone: str) -> datetime:
    """An aware datetime; a naive ISO string is read in ``time_zone``."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise PermanentError(f"{field}: '{value[:40]}' is not an ISO 8601 date and time",
                             code="invalid_time") from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone(time_zone))


def parse_window(start: str, end: str, time_zone: str) -> tuple[datetime, datetime]:
    first, last = parse_time(start, "start", time_zone), parse_time(end, "end", time_zone)
    if last <= first:
        raise PermanentError(f"end ({end}) must be after start ({start})", code="invalid_time")
    if (last - first).days > MAX_WINDOW_DAYS:
        raise PermanentError(f"the window from {start} to {end} is longer than {MAX_WINDOW_DAYS} days",
                             code="invalid_time")
    return first, last


def _when(moment: datetime, time_zone: str) -> dict[str, str]:
    return {"dateTime": moment.isoformat(), "timeZone": time_zone}


def event_body(params: EventFields, time_zone: str) -> dict[str, Any]:
    """The fields the params set (create: all of them; update: a patch of the given ones)."""
    body: dict[str, Any] = {}
    for name in ("summary", "description", "location"):
        value = getattr(params, name)
        if value is not None:
            body[name] = value
    zone(time_zone)
    start = parse_time(params.start, "start", time_zone) if params.start is not None else None
    end = parse_time(params.end, "end", time_zone) if params.end is not None else None
    if start is not None and end is not None and end < start:
        raise PermanentError(f"end ({params.end}) is before start ({params.start})", code="invalid_time")
    if start is not None:
        body["start"] = _when(start, time_zone)
    if end is not None:
        body["end"] = _when(end, time_zone)
    if params.attendees is not None:
        body["attendees"] = [{"email": address} for address in attendee_addresses(params.attendees)]
    if params.reminders is not None:
        overrides = ([{"method": "popup", "minutes": m} for m in params.reminders.popup]
                     + [{"method": "email", "minutes": m} for m in params.reminders.email])
        body["reminders"] = {"useDefault": not overrides, **({"overrides": overrides} if overrides else {})}
    if params.color_id is not None:
        body["colorId"] = str(params.color_id)
    if params.appointment_id is not None:
        body["extendedProperties"] = {"private": {APPOINTMENT_PROPERTY: params.appointment_id}}
    return body


def attendee_addresses(values: list[str | None]) -> list[str]:
    """Non-empty, valid, distinct addresses; an invalid one is refused rather than sent to Google."""
    from email_validator import EmailNotValidError, validate_email

    addresses: list[str] = []
    for index, value in enumerate(values):
        if value is None or not value.strip():
            continue
        try:
            address = validate_email(value.strip(), check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise PermanentError(f"attendees[{index}]: '{value[:60]}' is not an e-mail address ({exc})",
                                 code="invalid_attendee") from exc
        if address not in addresses:
            addresses.append(address)
    return addresses
