"""Visits linked to Google events both sides agree on, and Calendar v3 items as Google sends them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select

from connectors.calendar.versions import Version
from store.db import session_scope
from store.models import Appointment, CalendarLink, Customer, ServiceOrder, Technician

CALENDAR = "joao@example.com"
STARTS = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)
ENDS = STARTS + timedelta(hours=2)
SYNCED_AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
GOOGLE_UPDATED = datetime(2026, 12, 1, 12, 0, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Visit:
    appointment_id: str
    order_id: str
    technician_id: str
    event_id: str
    link_id: str


def version(starts: datetime = STARTS, ends: datetime = ENDS, status: str = "confirmed") -> Version:
    return {"start": starts.isoformat(), "end": ends.isoformat(), "status": status, "summary": "Visita"}


def item(event_id: str, starts: datetime = STARTS, ends: datetime = ENDS, *, etag: str = '"e2"',
         updated: datetime = GOOGLE_UPDATED + timedelta(hours=1), status: str = "confirmed",
         **extra: Any) -> dict[str, Any]:
    """A Calendar v3 event resource, times in São Paulo's offset as Google writes them."""
    zone = datetime.now(UTC).astimezone().tzinfo  # any offset: instants are what count
    body = {"kind": "calendar#event", "id": event_id, "etag": etag, "status": status,
            "updated": updated.isoformat().replace("+00:00", "Z"), "summary": "Visita",
            "start": {"dateTime": starts.astimezone(zone).isoformat(), "timeZone": "America/Sao_Paulo"},
            "end": {"dateTime": ends.astimezone(zone).isoformat(), "timeZone": "America/Sao_Paulo"}}
    body.update(extra)
    return body


@pytest.fixture
def make_visit(engine: sa.Engine) -> Callable[..., Visit]:
    """A live visit of João's, linked to a Google event both sides agree on."""
    counter = iter(range(1, 10_000))

    def make(*, linked: bool = True, status: str = "scheduled", calendar: str = CALENDAR,
             starts: datetime = STARTS, ends: datetime = ENDS) -> Visit:
        n = next(counter)
        with session_scope(engine) as s:
            technician = s.exec(select(Technician).where(Technician.google_calendar_id == calendar)).first()
            if technician is None:
                technician = Technician(name="João Lima", phone="+5511976543210", region="sp-zona-sul",
                                        google_calendar_id=calendar)
                s.add(technician)
            customer = Customer(name="Maria Souza", phone="+5511987654321", email="maria@example.com")
            s.add(customer)
            s.flush()
            order = ServiceOrder(customer_id=customer.id, region="sp-zona-sul", technician_id=technician.id,
                                 status="scheduled")
            s.add(order)
            s.flush()
            visit = Appointment(order_id=order.id, technician_id=technician.id, starts_at=starts,
                                ends_at=ends,
                                status=status, updated_at=SYNCED_AT)
            s.add(visit)
            s.flush()
            event_id = f"despacho{n:05d}"
            link = CalendarLink(appointment_id=visit.id, calendar_id=calendar, google_event_id=event_id,
                                etag='"e1"', synced_at=SYNCED_AT, google_updated=GOOGLE_UPDATED,
                                synced_version=version(starts, ends))
            if linked:
                s.add(link)
            return Visit(visit.id, order.id, technician.id, event_id, link.id)
    return make
