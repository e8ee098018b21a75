"""What the daemon's calendar jobs read: calendars with a push not yet synced, calendars to keep in sync.

A push is stored as a ``calendar.sync_requested`` event (``api.webhooks.google_calendar``);
it is served once the calendar's ``last_synced_at`` (the start of its last complete sync)
is later than the push. The event log is the queue: nothing is lost while no daemon runs,
and no second table has to be kept in step with it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from store.models import CalendarSyncState, Event

SYNC_REQUESTED = "calendar.sync_requested"
MAX_REQUESTS = 2000  # per look; a burst beyond it is served by the next look


def pending_sync_requests(session: Session, since: datetime) -> list[str]:
    """Calendars pushed since ``since`` whose last complete sync started before the push, oldest first."""
    rows = session.execute(
        sa.select(Event.__table__.c.payload, Event.__table__.c.occurred_at)
        .where(Event.__table__.c.type == SYNC_REQUESTED, Event.__table__.c.occurred_at > since)
        .order_by(Event.__table__.c.occurred_at.desc()).limit(MAX_REQUESTS)).all()
    latest: dict[str, datetime] = {}
    for payload, occurred_at in rows:
        calendar_id = _calendar_of(payload)
        if calendar_id is not None:
            latest.setdefault(calendar_id, occurred_at)
    if not latest:
        return []
    synced = dict(session.execute(
        sa.select(CalendarSyncState.__table__.c.calendar_id, CalendarSyncState.__table__.c.last_synced_at)
        .where(CalendarSyncState.__table__.c.calendar_id.in_(list(latest)))).all())
    pending = [(at, calendar_id) for calendar_id, at in latest.items()
               if synced.get(calendar_id) is None or _aware(synced[calendar_id]) < _aware(at)]
    return [calendar_id for _, calendar_id in sorted(pending)]


def watched_calendars(session: Session) -> list[str]:
    """Calendars despacho keeps in sync: with a push channel or a sync token."""
    return list(session.exec(select(CalendarSyncState.calendar_id).where(
        sa.or_(col(CalendarSyncState.channel_id).is_not(None),
               col(CalendarSyncState.sync_token).is_not(None)))
        .order_by(col(CalendarSyncState.calendar_id))))


def _calendar_of(payload: Any) -> str | None:
    value = payload.get("calendar_id") if isinstance(payload, dict) else None
    return value if isinstance(value, str) and value else None


def _aware(moment: datetime) -> datetime:
    # both sides are UTCDateTime columns (aware); a naive value would be UTC all the same
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
