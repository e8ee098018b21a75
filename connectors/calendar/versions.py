"""The part of an event two-way sync compares: start, end, status (and summary, kept for people).

A *version* is a small JSON dict ``{"start", "end", "status", "summary"}``
with UTC ISO times and status ``confirmed`` or ``cancelled``. The link keeps
the version both sides last agreed on (``CalendarLink.synced_version``); a
side whose version differs from it has changed. Google's items are hostile
input: every field read here is bounded, and a value that cannot be a visit
raises ``EventRejected`` naming the field.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the ORM stays unloaded until a sync runs (``despacho validate`` never loads it)
    from store.models import Appointment

Version = dict[str, Any]

MAX_TEXT = 64  # an RFC 3339 time is ~30 characters
MAX_SUMMARY = 500
MAX_VISIT = timedelta(days=31)
CANCELLED = "cancelled"


class EventRejected(ValueError):
    """A Google item despacho will not apply; ``field`` is where in the item."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def moment(value: Any, field: str) -> datetime:
    """An aware datetime from an RFC 3339 string (or a datetime), in UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and len(value) <= MAX_TEXT:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise EventRejected(field, f"not an RFC 3339 time: {value[:MAX_TEXT]!r}") from None
    else:
        raise EventRejected(field, f"expected an RFC 3339 time of at most {MAX_TEXT} characters")
    if parsed.tzinfo is None:
        raise EventRejected(field, "the time has no offset")
    return parsed.astimezone(UTC)


def optional_moment(value: Any, field: str) -> datetime | None:
    return None if value is None else moment(value, field)


def bounded(item: dict[str, Any], key: str, limit: int, *, required: bool = False) -> str | None:
    value = item.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise EventRejected(key, f"expected a non-empty string of at most {limit} characters")
    return value


def event_version(item: dict[str, Any], fallback: Version | None = None) -> Version:
    """The version of a Calendar v3 event resource.

    A cancelled (deleted) item may come without times: it keeps ``fallback``'s.
    """
    status = CANCELLED if item.get("status") == CANCELLED else "confirmed"
    summary = item.get("summary")
    summary = summary[:MAX_SUMMARY] if isinstance(summary, str) else None
    if status == CANCELLED and not (item.get("start") and item.get("end")):
        base = fallback or {"start": None, "end": None}
        return {"start": base.get("start"), "end": base.get("end"), "status": status, "summary": summary}
    start, end = _time(item, "start"), _time(item, "end")
    if end <= start:
        raise EventRejected("end.dateTime", f"ends at or before it starts ({start.isoformat()})")
    if end - start > MAX_VISIT:
        raise EventRejected("end.dateTime", f"a visit longer than {MAX_VISIT.days} days is not a visit")
    return {"start": start.isoformat(), "end": end.isoformat(), "status": status, "summary": summary}


def _time(item: dict[str, Any], key: str) -> datetime:
    value = item.get(key)
    if not isinstance(value, dict):
        raise EventRejected(key, "missing")
    if "dateTime" not in value and "date" in value:
        raise EventRejected(f"{key}.date", "an all-day event has no time: a visit needs one")
    return moment(value.get("dateTime"), f"{key}.dateTime")


def appointment_version(appointment: Appointment) -> Version:
    status = CANCELLED if appointment.status == CANCELLED else "confirmed"
    return {"start": appointment.starts_at.astimezone(UTC).isoformat(),
            "end": appointment.ends_at.astimezone(UTC).isoformat(), "status": status, "summary": None}


def same_visit(a: Version, b: Version) -> bool:
    """Same start, end and cancelled-ness (the summary is Google's business)."""
    if (a.get("status") == CANCELLED) != (b.get("status") == CANCELLED):
        return False
    return all(_instant(a.get(key)) == _instant(b.get(key)) for key in ("start", "end"))


def _instant(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        return moment(value, "synced_version")
    except EventRejected:
        return None  # an unreadable stored time differs from every real one


def event_times(version: Version) -> dict[str, Any]:
    """The start/end of a Calendar v3 body for ``version`` (a write back to Google)."""
    return {"start": {"dateTime": version["start"]}, "end": {"dateTime": version["end"]}}
