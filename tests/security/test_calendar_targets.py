"""Event data cannot choose where despacho writes in Google Calendar, nor send it unbounded input.

A rule renders ``calendar_id`` from event data (``data.technician.google_calendar_id``): a
crafted event could name any calendar the connected account can write (a manager's, a
shared company calendar). Only a technician's ``google_calendar_id`` or a calendar listed
in a connection is written; the rest is refused before any request reaches Google. Every
param is bounded by its model, so oversized or malformed values never leave despacho.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.base import ActionCall
from connectors.calendar import CalendarConnector
from connectors.calendar.params import (
    CancelEventParams,
    CreateEventParams,
    FindFreeSlotsParams,
    UpdateEventParams,
)
from errors import PermanentError
from tests.connectors.calendar.conftest import START, Connected
from tests.fakes.google_calendar import FakeGoogleCalendar

GOOD: dict[str, Any] = {"calendar_id": "ana.calendar@example.com", "summary": "Visita",
                        "start": "2027-03-01T09:00:00-03:00", "end": "2027-03-01T10:00:00-03:00"}


def create(calendar: CalendarConnector, **params: Any) -> dict[str, Any]:
    params = CreateEventParams(**{**GOOD, **params})
    return calendar.execute(ActionCall(action="create_event", params=params, idempotency_key="k"))


def test_a_calendar_of_no_technician_is_refused_before_google_is_asked(
        calendar: CalendarConnector, connect: Callable[..., Connected], google: FakeGoogleCalendar) -> None:
    connect()
    google.add_calendar("diretoria@example.com")
    with pytest.raises(PermanentError) as caught:
        create(calendar, calendar_id="diretoria@example.com")
    assert caught.value.code == "calendar_unknown"
    assert google.requests == [] and google.token_requests == []
    assert google.events("diretoria@example.com") == []


def test_a_calendar_listed_in_a_connection_may_be_written(
        calendar: CalendarConnector, connect: Callable[..., Connected], google: FakeGoogleCalendar,
        engine: Any) -> None:
    from sqlmodel import Session

    from store.models.calendar import CalendarConnection

    ana = connect()
    google.add_calendar("equipe@example.com")
    with Session(engine) as session:
        connection = session.get(CalendarConnection, ana.connection_id)
        assert connection is not None
        connection.calendars = ["equipe@example.com"]
        session.commit()
    create(calendar, calendar_id="equipe@example.com")
    assert len(google.events("equipe@example.com")) == 1


@pytest.mark.parametrize("calendar_id", ["primary", "../calendars/x@example.com", "a@b",
                                         "x" * 300 + "@example.com", "ana@example.com/events",
                                         "ana@example.com?sendUpdates=all"])
def test_a_malformed_calendar_id_is_refused_by_the_params(calendar_id: str) -> None:
    with pytest.raises(ValidationError):
        CreateEventParams(**{**GOOD, "calendar_id": calendar_id})


@pytest.mark.parametrize("event_id", ["abc", "x" * 1025, "ABCDEF12345", "abcdef/../x", "abcdefwxyz"])
def test_event_ids_outside_googles_alphabet_or_length_are_refused(event_id: str) -> None:
    with pytest.raises(ValidationError):
        UpdateEventParams(calendar_id=GOOD["calendar_id"], event_id=event_id)
    with pytest.raises(ValidationError):
        CancelEventParams(calendar_id=GOOD["calendar_id"], event_id=event_id)


@pytest.mark.parametrize("field", [
    {"summary": "x" * 1025}, {"description": "x" * 8193}, {"location": "x" * 1025},
    {"attendees": [f"p{n}@example.com" for n in range(51)]}, {"color_id": 12}, {"color_id": 0},
    {"reminders": {"popup": [10, 20, 30], "email": [40, 50, 60]}}, {"reminders": {"popup": [50000]}},
    {"appointment_id": "x" * 37}, {"start": "2" * 41},
])
def test_oversized_or_out_of_range_params_are_refused(field: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        CreateEventParams(**{**GOOD, **field})


def test_an_attendee_that_is_not_an_address_is_refused_before_google(
        calendar: CalendarConnector, connect: Callable[..., Connected], google: FakeGoogleCalendar) -> None:
    connect()
    with pytest.raises(PermanentError) as caught:
        create(calendar, attendees=["ana@example.com\r\nBcc: todos@example.com"])
    assert caught.value.code == "invalid_attendee"
    assert google.requests == []


def test_free_busy_windows_and_calendar_counts_are_bounded(
        calendar: CalendarConnector, connect: Callable[..., Connected], google: FakeGoogleCalendar) -> None:
    ana = connect()
    with pytest.raises(ValidationError):
        FindFreeSlotsParams(calendar_ids=[f"c{n}@example.com" for n in range(51)], start=START.isoformat(),
                            end=START.isoformat())
    params = FindFreeSlotsParams(calendar_ids=[ana.calendar_id], start="2027-01-01T00:00:00+00:00",
                                 end="2027-03-01T00:00:00+00:00")
    with pytest.raises(PermanentError) as caught:
        calendar.execute(ActionCall(action="find_free_slots", params=params, idempotency_key="k"))
    assert caught.value.code == "invalid_time"
    assert google.requests == []
