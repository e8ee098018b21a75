"""Technicians as the calendar actions see them: their calendar, zone and working hours."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.base import PermanentError
from connectors.calendar.auth import SessionFactory


@dataclass(frozen=True)
class TechnicianCalendar:
    technician_id: str
    name: str
    calendar_id: str | None
    time_zone: str
    working_hours: dict[str, list[str]]


def _row(technician: object) -> TechnicianCalendar:
    from store.models import Technician

    assert isinstance(technician, Technician)
    return TechnicianCalendar(technician.id, technician.name, technician.google_calendar_id,
                              technician.time_zone, dict(technician.working_hours))


def technicians(sessions: SessionFactory, ids: list[str]) -> list[TechnicianCalendar]:
    """In the order given; an unknown or deleted id is refused."""
    from sqlmodel import col, select

    from store.models import Technician

    with sessions() as session:
        found = {t.id: _row(t) for t in session.exec(
            select(Technician).where(col(Technician.id).in_(ids), col(Technician.deleted_at).is_(None)))}
    missing = [technician_id for technician_id in ids if technician_id not in found]
    if missing:
        raise PermanentError(f"technician_ids: unknown technician {missing[0]!r}", code="not_found")
    return [found[technician_id] for technician_id in ids]


def technician_of(sessions: SessionFactory, calendar_id: str) -> TechnicianCalendar | None:
    from sqlmodel import col, select

    from store.models import Technician

    with sessions() as session:
        technician = session.exec(select(Technician).where(Technician.google_calendar_id == calendar_id,
                                                           col(Technician.deleted_at).is_(None))).first()
        return _row(technician) if technician is not None else None
