"""``CalendarLink`` rows kept current on every write despacho makes to Google.

Two-way sync tells despacho's own writes coming back (echoes) from users' edits with
these fields, so every create, update and cancel sets them from Google's answer:

- ``calendar_id``, ``google_event_id``: where the event is;
- ``etag``: Google's etag of the version we wrote (``None`` after a cancel: delete
  answers no body);
- ``google_updated``: Google's ``updated`` of that version;
- ``synced_version``: ``event_version(event)``, the version both sides now agree on;
- ``synced_at``: when we wrote it; ``deleted_at``: set when despacho cancelled the event.

``event_version`` is the one normalisation both directions use: start and end as UTC ISO
strings (an all-day event keeps its ``YYYY-MM-DD``), ``status`` and ``summary``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlmodel import Session

    from store.models.calendar import CalendarLink

SessionFactory = Callable[[], AbstractContextManager["Session"]]
VERSION_FIELDS = ("start", "end", "status", "summary")


def _instant(when: Any) -> str | None:
    if not isinstance(when, dict):
        return None
    if "dateTime" in when:
        moment = datetime.fromisoformat(str(when["dateTime"]).replace("Z", "+00:00"))
        if moment.tzinfo is None:  # Google always sends an offset; be lenient with a zone-only answer
            from zoneinfo import ZoneInfo

            moment = moment.replace(tzinfo=ZoneInfo(when.get("timeZone") or "UTC"))
        return moment.astimezone(UTC).isoformat()
    return str(when["date"]) if "date" in when else None


def event_interval(event: dict[str, Any]) -> tuple[datetime, datetime] | None:
    """The event's [start, end) as aware datetimes; an all-day event spans its dates in UTC."""
    bounds = [_instant(event.get(side)) for side in ("start", "end")]
    if bounds[0] is None or bounds[1] is None:
        return None
    start, end = (datetime.fromisoformat(value) if "T" in value else
                  datetime.fromisoformat(value).replace(tzinfo=UTC) for value in (bounds[0], bounds[1]))
    return start, end


def event_version(event: dict[str, Any]) -> dict[str, Any]:
    """The fields a conflict is about, normalised so both sides compare equal when they agree."""
    return {"start": _instant(event.get("start")), "end": _instant(event.get("end")),
            "status": event.get("status", "confirmed"), "summary": event.get("summary")}


def google_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _find(session: Session, calendar_id: str, event_id: str,
          appointment_id: str | None) -> CalendarLink | None:
    from sqlmodel import select

    from store.models.calendar import CalendarLink

    if appointment_id is not None:
        link = session.exec(select(CalendarLink).where(CalendarLink.appointment_id == appointment_id)).first()
        if link is not None:
            return link
    return session.exec(select(CalendarLink).where(CalendarLink.calendar_id == calendar_id,
                                                   CalendarLink.google_event_id == event_id)).first()


def appointment_exists(sessions: SessionFactory, appointment_id: str) -> bool:
    from store.models import Appointment

    with sessions() as session:
        return session.get(Appointment, appointment_id) is not None


def own_events(sessions: SessionFactory, order_id: str) -> dict[str, set[str]]:
    """Calendar id -> the Google events of the order's visits (an assignment ignores them)."""
    from sqlmodel import col, select

    from store.models import Appointment
    from store.models.calendar import CalendarLink

    query = (select(CalendarLink.calendar_id, CalendarLink.google_event_id)
             .join(Appointment, col(Appointment.id) == col(CalendarLink.appointment_id))
             .where(Appointment.order_id == order_id, col(CalendarLink.deleted_at).is_(None)))
    found: dict[str, set[str]] = {}
    with sessions() as session:
        for calendar_id, event_id in session.exec(query):
            found.setdefault(calendar_id, set()).add(event_id)
    return found


def record_write(sessions: SessionFactory, calendar_id: str, event: dict[str, Any],
                 appointment_id: str | None) -> None:
    """After a create or update: the link matches the version Google now holds.

    Without an appointment id and without an existing link there is nothing to link:
    the event is not an appointment's.
    """
    from store.models.calendar import CalendarLink
    from store.types import utcnow

    with sessions() as session:
        link = _find(session, calendar_id, event["id"], appointment_id)
        if link is None:
            if appointment_id is None:
                return
            link = CalendarLink(appointment_id=appointment_id, calendar_id=calendar_id,
                                google_event_id=event["id"])
            session.add(link)
        link.calendar_id, link.google_event_id = calendar_id, event["id"]
        link.etag, link.google_updated = event.get("etag"), google_time(event.get("updated"))
        link.synced_version, link.synced_at, link.deleted_at = event_version(event), utcnow(), None


def record_cancel(sessions: SessionFactory, calendar_id: str, event_id: str,
                  appointment_id: str | None) -> None:
    """After a delete: the agreed version is cancelled, so the cancellation coming back is no news."""
    from store.types import utcnow

    with sessions() as session:
        link = _find(session, calendar_id, event_id, appointment_id)
        if link is None:
            return
        version = dict(link.synced_version or {})
        version["status"] = "cancelled"
        now = utcnow()
        link.synced_version, link.etag, link.synced_at, link.deleted_at = version, None, now, now
