"""Reading the conflicts two-way calendar sync recorded (``despacho calendar conflicts``)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from store.models import CalendarConflict
from store.payloads import to_json

MAX_LIMIT = 1000
FIELDS = ("id", "appointment_id", "calendar_id", "google_event_id", "policy", "winner", "detected_at",
          "ours", "theirs")


def list_conflicts(session: Session, limit: int = 50,
                   appointment_id: str | None = None) -> list[dict[str, Any]]:
    """The newest conflicts first (all, or one appointment's), as JSON-friendly dicts.

    ``ours`` and ``theirs`` are the two versions (``start``, ``end``, ``status``, ``summary``);
    ``winner`` is ``despacho`` or ``google``. ``limit`` is capped at 1,000.
    """
    statement = select(CalendarConflict).order_by(col(CalendarConflict.detected_at).desc(),
                                                  col(CalendarConflict.id))
    if appointment_id is not None:
        statement = statement.where(CalendarConflict.appointment_id == appointment_id)
    rows = session.exec(statement.limit(max(1, min(limit, MAX_LIMIT)))).all()
    return [{name: to_json(getattr(row, name)) for name in FIELDS} for row in rows]
