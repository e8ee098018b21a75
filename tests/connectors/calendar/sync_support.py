"""Helpers for sync tests: visits whose events despacho created in the fake, and reading them back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from connectors.base import ActionCall
from connectors.calendar import CalendarConnector
from connectors.calendar.api import CalendarApi
from connectors.calendar.params import CreateEventParams
from store.models import Appointment, CalendarLink, Event
from tests.connectors.calendar.conftest import START


@dataclass(frozen=True)
class Linked:
    appointment_id: str
    event_id: str


def create_linked(calendar: CalendarConnector, make_appointment: Callable[..., str], technician_id: str,
                  calendar_id: str, count: int) -> list[Linked]:
    """``count`` visits, each with the Google event despacho's create_event action made for it."""
    made = []
    for n in range(count):
        start = START + timedelta(hours=2 * n)
        visit = make_appointment(technician_id, start=start)
        params = CreateEventParams(calendar_id=calendar_id, summary=f"OS {n}", start=start.isoformat(),
                                   end=(start + timedelta(hours=1)).isoformat(), appointment_id=visit)
        outputs = calendar.execute(ActionCall(action="create_event", params=params,
                                              idempotency_key=f"create:{visit}:0"))
        made.append(Linked(visit, outputs["event_id"]))
    return made


def api_of(calendar: CalendarConnector, calendar_id: str) -> CalendarApi:
    return calendar.clients.api(calendar_id)


def when(moment: datetime) -> dict[str, str]:
    return {"dateTime": moment.isoformat(), "timeZone": "America/Sao_Paulo"}


def visit(engine: sa.Engine, appointment_id: str) -> Appointment:
    with Session(engine) as session:
        found = session.get(Appointment, appointment_id)
    assert found is not None
    return found


def link(engine: sa.Engine, appointment_id: str) -> CalendarLink:
    with Session(engine) as session:
        return session.exec(select(CalendarLink).where(CalendarLink.appointment_id == appointment_id)).one()


def google_events(engine: sa.Engine) -> list[tuple[str, str, Any]]:
    """(type, appointment id, payload) of the appointment events sync recorded, oldest first."""
    with Session(engine) as session:
        rows = session.exec(select(Event).where(col(Event.type).startswith("appointment."))
                            .order_by(col(Event.recorded_at))).all()
    return [(row.type, row.payload["appointment"]["id"], row.payload)
            for row in rows if row.source == "google"]
