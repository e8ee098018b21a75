"""order.assign_technician with calendar: check asks Google who is busy at the order's time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.base import ActionCall
from connectors.calendar import CalendarConnector
from connectors.order import AssignTechnicianParams, OrderConnector
from errors import PermanentError
from store.db import session_scope
from tests.connectors.calendar.conftest import START, Connected
from tests.fakes.google_calendar import FakeGoogleCalendar


@pytest.fixture
def order_id(engine: sa.Engine) -> str:
    from store.models import Customer, ServiceOrder

    with session_scope(engine) as session:
        customer = Customer(name="Maria Souza", phone="+5511987654321")
        session.add(customer)
        session.flush()
        order = ServiceOrder(customer_id=customer.id, region="sp-capital", scheduled_start=START,
                             scheduled_end=START + timedelta(hours=2))
        session.add(order)
        session.flush()
        return order.id


@pytest.fixture
def orders(calendar: CalendarConnector) -> OrderConnector:
    return OrderConnector(None, replace(calendar.runtime, calendar_check=calendar.calendar_check))


def assign(orders: OrderConnector, order_id: str, calendar: str = "check", key: str = "k") -> dict[str, Any]:
    params = AssignTechnicianParams(order_id=order_id, calendar=calendar)  # type: ignore[arg-type]
    return orders.execute(ActionCall(action="assign_technician", params=params, idempotency_key=key))


def test_a_technician_busy_in_google_is_skipped_with_the_reason(
        orders: OrderConnector, order_id: str, connect: Callable[..., Connected],
        google: FakeGoogleCalendar) -> None:
    ana, bia = connect(name="Ana"), connect("bia@example.com", "Bia")
    google.put_event(ana.calendar_id, {"id": "dentista01", "summary": "Dentista",
                                       "start": {"dateTime": (START + timedelta(hours=1)).isoformat()},
                                       "end": {"dateTime": (START + timedelta(hours=3)).isoformat()}})
    outputs = assign(orders, order_id)
    assert outputs["technician_id"] == bia.technician_id
    assert outputs["skipped"] == {"busy in Google Calendar": 1}
    note = outputs["calendar_notes"][ana.technician_id]
    assert note.startswith("busy in Google Calendar (2027-03-01T13:00")


def test_with_calendar_ignore_google_is_not_asked(orders: OrderConnector, order_id: str,
                                                  connect: Callable[..., Connected],
                                                  google: FakeGoogleCalendar) -> None:
    connect(name="Ana")
    assign(orders, order_id, calendar="ignore")
    assert google.requests == [] and google.token_requests == []


def test_a_technician_without_a_connection_stays_eligible_with_a_note(
        orders: OrderConnector, order_id: str, connect: Callable[..., Connected]) -> None:
    caio = connect("caio@example.com", "Caio", connected=False)
    outputs = assign(orders, order_id)
    assert outputs["technician_id"] == caio.technician_id
    note = outputs["calendar_notes"][caio.technician_id]
    assert note.startswith("calendar not checked: ") and "despacho calendar connect" in note


def test_when_everyone_is_busy_in_google_the_error_says_so(
        orders: OrderConnector, order_id: str, connect: Callable[..., Connected],
        google: FakeGoogleCalendar) -> None:
    ana = connect(name="Ana")
    google.put_event(ana.calendar_id, {"id": "feriasana", "summary": "Férias",
                                       "start": {"date": "2027-03-01"}, "end": {"date": "2027-03-02"}})
    with pytest.raises(PermanentError) as caught:
        assign(orders, order_id)
    assert caught.value.code == "no_eligible_technician"
    assert "busy in Google Calendar: 1" in str(caught.value)


def test_the_orders_own_visit_in_its_technicians_calendar_does_not_make_them_busy(
        orders: OrderConnector, calendar: CalendarConnector, order_id: str, engine: sa.Engine,
        connect: Callable[..., Connected], google: FakeGoogleCalendar) -> None:
    from connectors.calendar.params import CreateEventParams
    from store.models import Appointment

    ana = connect(name="Ana")
    with session_scope(engine) as session:
        visit = Appointment(order_id=order_id, technician_id=ana.technician_id, starts_at=START,
                            ends_at=START + timedelta(hours=2))
        session.add(visit)
        session.flush()
        visit_id = visit.id
    params = CreateEventParams(calendar_id=ana.calendar_id, summary="OS", start=START.isoformat(),
                               end=(START + timedelta(hours=2)).isoformat(), appointment_id=visit_id)
    calendar.execute(ActionCall(action="create_event", params=params, idempotency_key="visit"))
    assert assign(orders, order_id)["technician_id"] == ana.technician_id
    google.put_event(ana.calendar_id, {"id": "outra0001", "summary": "Outra visita",
                                       "start": {"dateTime": START.isoformat()},
                                       "end": {"dateTime": (START + timedelta(minutes=30)).isoformat()}})
    with pytest.raises(PermanentError) as caught:
        assign(orders, order_id, key="again")
    assert "busy in Google Calendar: 1" in str(caught.value)
