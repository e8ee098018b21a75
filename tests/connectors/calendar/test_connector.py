"""The calendar actions on transport google, through the real client, against the fake."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from connectors.base import ActionCall, Params
from connectors.calendar import CalendarConnector
from connectors.calendar.ids import event_id_for
from connectors.calendar.links import event_version
from connectors.calendar.params import (
    CancelEventParams,
    CreateEventParams,
    FindConflictsParams,
    FindFreeSlotsParams,
    UpdateEventParams,
)
from errors import PermanentError, TransientError
from store.models.calendar import CalendarLink
from tests.connectors.calendar.conftest import START, Connected
from tests.fakes.google_calendar import FakeGoogleCalendar

KEY = "appointment-scheduled-add-to-calendar:event-1:calendar_event"


def run(connector: CalendarConnector, action: str, params: Params, key: str = KEY) -> dict[str, Any]:
    return connector.execute(ActionCall(action=action, params=params, idempotency_key=key))


def create_params(calendar_id: str, appointment_id: str | None = None, **extra: Any) -> CreateEventParams:
    values: dict[str, Any] = {"calendar_id": calendar_id, "summary": "OS 1234 · Geladeira",
                              "start": START.isoformat(), "end": (START + timedelta(hours=1)).isoformat(),
                              "appointment_id": appointment_id}
    return CreateEventParams(**{**values, **extra})


def link_of(engine: sa.Engine, appointment_id: str) -> CalendarLink:
    with Session(engine) as session:
        link = session.exec(select(CalendarLink).where(CalendarLink.appointment_id == appointment_id)).one()
        return link


@pytest.fixture
def ana(connect: Callable[..., Connected]) -> Connected:
    return connect()


def test_create_sends_the_derived_id_and_links_the_appointment(
        calendar: CalendarConnector, ana: Connected, make_appointment: Callable[..., str],
        google: FakeGoogleCalendar, engine: sa.Engine) -> None:
    visit = make_appointment(ana.technician_id)
    outputs = run(calendar, "create_event", create_params(ana.calendar_id, visit, color_id=5,
                                                          reminders={"popup": [30], "email": [1440]}))
    event = google.event(ana.calendar_id, event_id_for(KEY))
    assert event is not None and outputs == {"event_id": event["id"], "html_link": event["htmlLink"],
                                             "etag": event["etag"]}
    assert event["extendedProperties"]["private"]["despacho_appointment_id"] == visit
    assert event["colorId"] == "5"
    assert event["reminders"] == {"useDefault": False, "overrides": [{"method": "popup", "minutes": 30},
                                                                      {"method": "email", "minutes": 1440}]}
    link = link_of(engine, visit)
    assert (link.calendar_id, link.google_event_id) == (ana.calendar_id, event["id"])
    assert link.etag == event["etag"]
    assert link.synced_version == event_version(event)
    assert link.google_updated is not None


def test_a_retried_create_returns_the_first_event_without_a_duplicate(
        calendar: CalendarConnector, ana: Connected, make_appointment: Callable[..., str],
        google: FakeGoogleCalendar) -> None:
    visit = make_appointment(ana.technician_id)
    first = run(calendar, "create_event", create_params(ana.calendar_id, visit))
    again = run(calendar, "create_event", create_params(ana.calendar_id, visit))
    assert again == first
    assert len(google.events(ana.calendar_id)) == 1
    assert [r["method"] for r in google.requests] == ["POST", "POST", "GET"]  # insert, 409, get


def test_create_without_an_offset_uses_the_technicians_time_zone(
        calendar: CalendarConnector, connect: Callable[..., Connected], google: FakeGoogleCalendar) -> None:
    from store.models import Technician

    ana = connect()
    with Session(calendar_engine(calendar)) as session:
        technician = session.get(Technician, ana.technician_id)
        assert technician is not None
        technician.time_zone = "America/Manaus"
        session.commit()
    run(calendar, "create_event", create_params(ana.calendar_id, start="2027-03-01T09:00:00",
                                                end="2027-03-01T10:00:00"))
    event = google.events(ana.calendar_id)[0]
    assert event["start"] == {"dateTime": "2027-03-01T09:00:00-04:00", "timeZone": "America/Manaus"}


def calendar_engine(calendar: CalendarConnector) -> sa.Engine:
    assert calendar.runtime.session is not None
    with calendar.runtime.session() as session:
        bind = session.get_bind()
        assert isinstance(bind, sa.Engine)
        return bind


def test_update_patches_the_given_fields_and_refreshes_the_link(
        calendar: CalendarConnector, ana: Connected, make_appointment: Callable[..., str],
        google: FakeGoogleCalendar, engine: sa.Engine) -> None:
    visit = make_appointment(ana.technician_id)
    created = run(calendar, "create_event", create_params(ana.calendar_id, visit, location="Rua A, 1"))
    later = START + timedelta(days=1)
    outputs = run(calendar, "update_event", UpdateEventParams(
        calendar_id=ana.calendar_id, event_id=created["event_id"], start=later.isoformat(),
        end=(later + timedelta(hours=2)).isoformat()), key="update-1")
    event = google.event(ana.calendar_id, created["event_id"])
    assert event is not None and event["location"] == "Rua A, 1"
    assert outputs["etag"] == event["etag"] != created["etag"]
    link = link_of(engine, visit)
    assert link.etag == event["etag"]
    assert link.synced_version == {"start": "2027-03-02T12:00:00+00:00", "end": "2027-03-02T14:00:00+00:00",
                                   "status": "confirmed", "summary": "OS 1234 · Geladeira"}


def test_update_of_a_missing_event_is_permanent_not_found(calendar: CalendarConnector,
                                                          ana: Connected) -> None:
    with pytest.raises(PermanentError) as caught:
        run(calendar, "update_event", UpdateEventParams(calendar_id=ana.calendar_id, event_id="abcdef12345",
                                                        summary="x"))
    assert caught.value.code == "not_found"


def test_cancel_deletes_and_a_second_cancel_succeeds_as_already_gone(
        calendar: CalendarConnector, ana: Connected, make_appointment: Callable[..., str],
        google: FakeGoogleCalendar, engine: sa.Engine) -> None:
    visit = make_appointment(ana.technician_id)
    created = run(calendar, "create_event", create_params(ana.calendar_id, visit))
    params = CancelEventParams(calendar_id=ana.calendar_id, event_id=created["event_id"])
    first = run(calendar, "cancel_event", params, key="c")
    assert first == {"event_id": created["event_id"], "status": "cancelled"}
    assert run(calendar, "cancel_event", params, key="c")["status"] == "already_gone"
    assert google.events(ana.calendar_id)[0]["status"] == "cancelled"
    link = link_of(engine, visit)
    assert link.synced_version is not None and link.synced_version["status"] == "cancelled"
    assert link.deleted_at is not None


def test_cancel_of_an_event_google_never_had_succeeds(calendar: CalendarConnector, ana: Connected) -> None:
    params = CancelEventParams(calendar_id=ana.calendar_id, event_id="abcdef12345")
    assert run(calendar, "cancel_event", params)["status"] == "already_gone"


def test_a_rate_limited_google_is_transient_with_its_retry_after(
        calendar: CalendarConnector, ana: Connected, google: FakeGoogleCalendar) -> None:
    google.fail_next(403, "rateLimitExceeded", retry_after=12)
    with pytest.raises(TransientError) as caught:
        run(calendar, "create_event", create_params(ana.calendar_id))
    assert caught.value.retry_after == 12.0


def test_find_conflicts_lists_busy_intervals_overlapping_the_window(
        calendar: CalendarConnector, connect: Callable[..., Connected], google: FakeGoogleCalendar) -> None:
    ana, bia = connect(), connect("bia@example.com", "Bia")
    google.put_event(ana.calendar_id, busy_event("ev00001", START, 1))
    outputs = run(calendar, "find_conflicts", FindConflictsParams(
        calendar_ids=[ana.calendar_id, bia.calendar_id], start=(START - timedelta(minutes=30)).isoformat(),
        end=(START + timedelta(minutes=30)).isoformat()))
    assert outputs["busy"] is True and outputs["count"] == 1
    assert outputs["conflicts"][0]["calendar_id"] == ana.calendar_id
    conflict = outputs["conflicts"][0]
    assert (conflict["start"], conflict["end"]) == ("2027-03-01T12:00:00+00:00",
                                                    "2027-03-01T12:30:00+00:00")  # clipped to the window


def busy_event(event_id: str, start: Any, hours: float) -> dict[str, Any]:
    return {"id": event_id, "summary": "ocupado", "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + timedelta(hours=hours)).isoformat()}}


def test_find_free_slots_of_technicians_inside_their_working_hours(
        calendar: CalendarConnector, connect: Callable[..., Connected], google: FakeGoogleCalendar) -> None:
    hours = {"mon": ["09:00", "12:00"]}  # São Paulo: 12:00-15:00 UTC
    ana = connect(working_hours=hours)
    bia = connect("bia@example.com", "Bia", working_hours=hours)
    google.put_event(ana.calendar_id, busy_event("ev00001", START + timedelta(hours=1), 1))  # 10-11 local
    params = FindFreeSlotsParams(technician_ids=[ana.technician_id, bia.technician_id],
                                 start=START.isoformat(), end=(START + timedelta(hours=8)).isoformat(),
                                 working_hours="technician")
    outputs = run(calendar, "find_free_slots", params)
    by_technician: dict[str, list[str]] = {}
    for slot in outputs["slots"]:
        by_technician.setdefault(slot["technician_id"], []).append(slot["start"][11:16])
    assert by_technician == {ana.technician_id: ["12:00", "14:00"],
                             bia.technician_id: ["12:00", "13:00", "14:00"]}
    together = run(calendar, "find_free_slots", params.model_copy(update={"together": True}))
    assert [slot["start"][11:16] for slot in together["slots"]] == ["12:00", "14:00"]


def test_find_free_slots_notes_a_technician_without_a_calendar(
        calendar: CalendarConnector, connect: Callable[..., Connected], engine: sa.Engine) -> None:
    from store.models import Technician

    connect()
    with Session(engine) as session:
        nobody = Technician(name="Caio", region="sp-capital")
        session.add(nobody)
        session.commit()
        nobody_id = nobody.id
    outputs = run(calendar, "find_free_slots", FindFreeSlotsParams(
        technician_ids=[nobody_id], start=START.isoformat(), end=(START + timedelta(hours=2)).isoformat()))
    assert outputs == {"slots": [], "count": 0, "unchecked": [nobody_id]}


def test_plan_shows_the_body_without_calling_google(calendar: CalendarConnector, ana: Connected,
                                                    google: FakeGoogleCalendar) -> None:
    params = create_params(ana.calendar_id, attendees=["ana@example.com", None, ""])
    plan = calendar.plan("create_event", params, None)
    assert plan["method"] == "events.insert" and plan["calendar_id"] == ana.calendar_id
    assert plan["body"]["attendees"] == [{"email": "ana@example.com"}]
    assert plan["body"]["start"] == {"dateTime": START.isoformat(), "timeZone": "America/Sao_Paulo"}
    assert google.requests == [] and google.token_requests == []


def test_the_file_transport_still_writes_the_outbox(calendar: CalendarConnector, ana: Connected,
                                                    google: FakeGoogleCalendar) -> None:
    calendar.settings = calendar.settings.model_copy(update={"transport": "file"})
    outputs = run(calendar, "create_event", create_params(ana.calendar_id))
    assert outputs["event_id"].startswith("file-")
    assert google.requests == []


def test_check_lists_each_connection_and_its_reachable_calendars(calendar: CalendarConnector,
                                                                 ana: Connected) -> None:
    found = calendar.check()
    assert found["detail"] == f"{ana.calendar_id} (oauth): connected, 1 calendar(s) reachable"


def test_check_fails_on_a_revoked_grant_without_marking_it(
        calendar: CalendarConnector, ana: Connected, google: FakeGoogleCalendar, engine: sa.Engine) -> None:
    from store.models.calendar import CalendarConnection

    google.revoke(ana.refresh_token)
    with pytest.raises(PermanentError) as caught:
        calendar.check()
    assert "invalid_grant" in str(caught.value)
    with Session(engine) as session:
        connection = session.get(CalendarConnection, ana.connection_id)
        assert connection is not None and connection.status == "connected"


def test_a_grant_revoked_while_the_client_is_cached_breaks_the_connection_once(
        calendar: CalendarConnector, ana: Connected, google: FakeGoogleCalendar, engine: sa.Engine) -> None:
    from store.models import Event
    from store.models.calendar import CalendarConnection

    run(calendar, "create_event", create_params(ana.calendar_id), key="first")
    google.revoke(ana.refresh_token)
    google.expire_access_tokens()  # the cached client must refresh now, and is refused
    with pytest.raises(PermanentError) as caught:
        run(calendar, "create_event", create_params(ana.calendar_id), key="second")
    assert caught.value.code == "calendar_auth" and "despacho calendar connect" in str(caught.value)
    asked = len(google.token_requests)
    with pytest.raises(PermanentError):
        run(calendar, "create_event", create_params(ana.calendar_id), key="third")
    assert len(google.token_requests) == asked
    with Session(engine) as session:
        connection = session.get(CalendarConnection, ana.connection_id)
        assert connection is not None and connection.status == "broken"
        events = session.exec(select(Event).where(Event.type == "calendar.auth_failed")).all()
        assert len(events) == 1


def test_a_refresh_by_the_cached_client_updates_the_token_expiry(
        calendar: CalendarConnector, ana: Connected, google: FakeGoogleCalendar, engine: sa.Engine) -> None:
    from store.models.calendar import CalendarConnection

    run(calendar, "create_event", create_params(ana.calendar_id), key="first")
    with Session(engine) as session:
        connection = session.get(CalendarConnection, ana.connection_id)
        assert connection is not None
        connection.token_expires_at = None
        session.commit()
    google.expire_access_tokens()
    run(calendar, "create_event", create_params(ana.calendar_id), key="second")
    assert len(google.token_requests) == 2
    with Session(engine) as session:
        connection = session.get(CalendarConnection, ana.connection_id)
        assert connection is not None and connection.token_expires_at is not None
