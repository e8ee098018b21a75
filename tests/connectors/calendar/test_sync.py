"""Pulling Google's changes through the real client against the fake: pages, sync tokens, 410, restarts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from connectors.base import ActionCall
from connectors.calendar import CalendarConnector
from connectors.calendar.params import UpdateEventParams
from connectors.calendar.settings import CalendarSettings
from connectors.calendar.sync import SyncReport, sync_calendar
from store.db import session_scope
from store.models import Appointment, CalendarConflict, CalendarSyncState
from tests.connectors.calendar.conftest import START, Connected
from tests.connectors.calendar.sync_support import (
    Linked,
    api_of,
    create_linked,
    google_events,
    link,
    visit,
    when,
)
from tests.fakes.google_calendar import FakeGoogleCalendar
from tests.support.catalogue import payload_errors


class Stop(Exception):
    """Raised from a page callback: the sync dies part-way, as a killed worker would."""


@pytest.fixture
def ana(connect: Callable[..., Connected]) -> Connected:
    return connect()


@pytest.fixture
def run_sync(calendar: CalendarConnector, engine: sa.Engine,
             calendar_settings: CalendarSettings) -> Callable[..., SyncReport]:
    def run(calendar_id: str, *, page_size: int = 250, policy: str | None = None,
            after_page: Callable[[SyncReport], None] | None = None) -> SyncReport:
        settings = calendar_settings.model_copy(update={"conflict_policy": policy} if policy else {})
        return sync_calendar(api_of(calendar, calendar_id), lambda: session_scope(engine), settings,
                             calendar_id, page_size=page_size, after_page=after_page)
    return run


def state(engine: sa.Engine, calendar_id: str) -> CalendarSyncState:
    with Session(engine) as session:
        found = session.get(CalendarSyncState, calendar_id)
    assert found is not None
    return found


def move_in_google(google: FakeGoogleCalendar, calendar_id: str, event_id: str, hours: int) -> None:
    event = google.event(calendar_id, event_id)
    assert event is not None
    start = START + timedelta(hours=hours)
    google.put_event(calendar_id, {"id": event_id, "start": when(start),
                                   "end": when(start + timedelta(hours=1))})


def test_a_first_sync_lists_every_page_and_keeps_the_sync_token(
        calendar: CalendarConnector, ana: Connected, make_appointment: Callable[..., str],
        google: FakeGoogleCalendar, engine: sa.Engine, run_sync: Callable[..., SyncReport]) -> None:
    create_linked(calendar, make_appointment, ana.technician_id, ana.calendar_id, 2)
    for n in range(5):  # the technician's own events: not despacho's
        google.put_event(ana.calendar_id, {"id": f"personal{n:04d}", "summary": "Dentista",
                                           "start": when(START), "end": when(START + timedelta(hours=1))})
    report = run_sync(ana.calendar_id, page_size=3)

    assert (report.full, report.pages, report.items, report.echoes, report.applied) == (True, 3, 7, 2, 0)
    sync_state = state(engine, ana.calendar_id)
    assert sync_state.sync_token and sync_state.full_synced_at and sync_state.last_synced_at
    assert google_events(engine) == []
    list_calls = [r for r in google.requests if r["path"].endswith("/events") and r["method"] == "GET"]
    assert all("timeMin" not in r["query"] and "timeMax" not in r["query"] for r in list_calls)


def test_an_incremental_sync_lists_only_the_changes_and_applies_a_move(
        calendar: CalendarConnector, ana: Connected, make_appointment: Callable[..., str],
        google: FakeGoogleCalendar, engine: sa.Engine, run_sync: Callable[..., SyncReport]) -> None:
    visits = create_linked(calendar, make_appointment, ana.technician_id, ana.calendar_id, 4)
    run_sync(ana.calendar_id)
    move_in_google(google, ana.calendar_id, visits[1].event_id, hours=30)
    report = run_sync(ana.calendar_id)

    assert (report.full, report.items, report.applied) == (False, 1, 1)
    assert visit(engine, visits[1].appointment_id).starts_at == START + timedelta(hours=30)
    ((kind, appointment_id, payload),) = google_events(engine)
    assert (kind, appointment_id) == ("appointment.rescheduled", visits[1].appointment_id)
    assert payload["changed_by"] == "google"
    assert payload_errors(kind, payload) == []
    assert any("syncToken" in r["query"] for r in google.requests if r["path"].endswith("/events"))


def test_despachos_own_update_comes_back_as_an_echo(
        calendar: CalendarConnector, ana: Connected, make_appointment: Callable[..., str],
        engine: sa.Engine, run_sync: Callable[..., SyncReport]) -> None:
    (linked,) = create_linked(calendar, make_appointment, ana.technician_id, ana.calendar_id, 1)
    run_sync(ana.calendar_id)
    start = START + timedelta(days=1)
    with session_scope(engine) as s:  # despacho moves the visit, and its rule updates the event
        moved = s.get(Appointment, linked.appointment_id)
        assert moved is not None
        moved.starts_at, moved.ends_at = start, start + timedelta(hours=1)
    params = UpdateEventParams(calendar_id=ana.calendar_id, event_id=linked.event_id,
                               start=start.isoformat(), end=(start + timedelta(hours=1)).isoformat(),
                               appointment_id=linked.appointment_id)
    calendar.execute(ActionCall(action="update_event", params=params, idempotency_key="update:1"))
    report = run_sync(ana.calendar_id)

    assert (report.items, report.echoes, report.conflicts) == (1, 1, 0)
    assert google_events(engine) == []


@pytest.mark.parametrize("how", ["cancelled", "deleted"])
def test_an_event_cancelled_or_deleted_in_google_cancels_the_visit(
        calendar: CalendarConnector, ana: Connected, make_appointment: Callable[..., str],
        google: FakeGoogleCalendar, engine: sa.Engine, run_sync: Callable[..., SyncReport], how: str) -> None:
    (linked,) = create_linked(calendar, make_appointment, ana.technician_id, ana.calendar_id, 1)
    run_sync(ana.calendar_id)
    if how == "deleted":
        google.delete(ana.calendar_id, linked.event_id)
    else:
        google.put_event(ana.calendar_id, {"id": linked.event_id, "status": "cancelled"})
    run_sync(ana.calendar_id)

    assert visit(engine, linked.appointment_id).status == "cancelled"
    assert [(kind, appointment_id) for kind, appointment_id, _ in google_events(engine)] == [
        ("appointment.cancelled", linked.appointment_id)]


def test_an_expired_sync_token_is_dropped_and_everything_is_listed_again_without_applying_twice(
        calendar: CalendarConnector, ana: Connected, make_appointment: Callable[..., str],
        google: FakeGoogleCalendar, engine: sa.Engine, run_sync: Callable[..., SyncReport]) -> None:
    visits = create_linked(calendar, make_appointment, ana.technician_id, ana.calendar_id, 5)
    run_sync(ana.calendar_id)
    move_in_google(google, ana.calendar_id, visits[0].event_id, hours=40)
    run_sync(ana.calendar_id)
    old_token = state(engine, ana.calendar_id).sync_token
    google.expire_sync_tokens(ana.calendar_id)
    report = run_sync(ana.calendar_id, page_size=2)

    assert (report.full, report.items, report.applied) == (True, 5, 0)
    assert state(engine, ana.calendar_id).sync_token not in (None, old_token)
    assert len(google_events(engine)) == 1


def test_a_sync_stopped_after_page_two_of_four_loses_nothing_and_applies_nothing_twice(
        calendar: CalendarConnector, ana: Connected, make_appointment: Callable[..., str],
        google: FakeGoogleCalendar, engine: sa.Engine, run_sync: Callable[..., SyncReport]) -> None:
    visits = create_linked(calendar, make_appointment, ana.technician_id, ana.calendar_id, 12)
    run_sync(ana.calendar_id)
    token = state(engine, ana.calendar_id).sync_token
    for n, linked in enumerate(visits):
        move_in_google(google, ana.calendar_id, linked.event_id, hours=100 + n)

    def die_after_two(report: SyncReport) -> None:
        if report.pages == 2:
            raise Stop

    with pytest.raises(Stop):
        run_sync(ana.calendar_id, page_size=3, after_page=die_after_two)
    assert state(engine, ana.calendar_id).sync_token == token  # not complete: the old token stays
    assert len(google_events(engine)) == 6  # the two committed pages
    report = run_sync(ana.calendar_id, page_size=3)

    assert (report.pages, report.items, report.echoes, report.applied) == (4, 12, 6, 6)
    moved = [appointment_id for _, appointment_id, _ in google_events(engine)]
    assert sorted(moved) == sorted(v.appointment_id for v in visits)  # each exactly once
    assert all(visit(engine, v.appointment_id).starts_at == START + timedelta(hours=100 + n)
               for n, v in enumerate(visits))
    assert state(engine, ana.calendar_id).sync_token != token


def conflict_setup(calendar: CalendarConnector, ana: Connected, make_appointment: Callable[..., str],
                   google: FakeGoogleCalendar, engine: sa.Engine,
                   run_sync: Callable[..., SyncReport]) -> Linked:
    """Both sides move the visit after a sync: despacho by 3 hours, Google by a day."""
    (linked,) = create_linked(calendar, make_appointment, ana.technician_id, ana.calendar_id, 1)
    run_sync(ana.calendar_id)
    with session_scope(engine) as s:
        ours = s.get(Appointment, linked.appointment_id)
        assert ours is not None
        ours.starts_at, ours.ends_at = START + timedelta(hours=3), START + timedelta(hours=4)
    move_in_google(google, ana.calendar_id, linked.event_id, hours=24)
    return linked


def conflicts(engine: sa.Engine) -> list[CalendarConflict]:
    with Session(engine) as session:
        return list(session.exec(select(CalendarConflict)))


def test_despacho_wins_a_conflict_and_google_returns_to_its_version(
        calendar: CalendarConnector, ana: Connected, make_appointment: Callable[..., str],
        google: FakeGoogleCalendar, engine: sa.Engine, run_sync: Callable[..., SyncReport]) -> None:
    linked = conflict_setup(calendar, ana, make_appointment, google, engine, run_sync)
    report = run_sync(ana.calendar_id, policy="despacho_wins")

    (conflict,) = conflicts(engine)
    event = google.event(ana.calendar_id, linked.event_id)
    assert report.conflicts == 1 and conflict.winner == "despacho"
    assert conflict.theirs["start"] == (START + timedelta(hours=24)).isoformat()
    assert event is not None and event["start"]["dateTime"].startswith("2027-03-01T15:00:00")
    assert visit(engine, linked.appointment_id).starts_at == START + timedelta(hours=3)
    assert link(engine, linked.appointment_id).etag == event["etag"]
    again = run_sync(ana.calendar_id)  # the write back comes back: an echo, no second conflict
    assert (again.items, again.echoes, len(conflicts(engine))) == (1, 1, 1)


def test_google_wins_a_conflict_and_the_visit_takes_googles_time(
        calendar: CalendarConnector, ana: Connected, make_appointment: Callable[..., str],
        google: FakeGoogleCalendar, engine: sa.Engine, run_sync: Callable[..., SyncReport]) -> None:
    linked = conflict_setup(calendar, ana, make_appointment, google, engine, run_sync)
    run_sync(ana.calendar_id, policy="google_wins")

    (conflict,) = conflicts(engine)
    assert conflict.winner == "google" and conflict.ours["start"] == (START + timedelta(hours=3)).isoformat()
    assert visit(engine, linked.appointment_id).starts_at == START + timedelta(hours=24)
    assert [kind for kind, _, _ in google_events(engine)] == ["appointment.rescheduled"]


def test_newest_wins_gives_the_conflict_to_the_later_change(
        calendar: CalendarConnector, ana: Connected, make_appointment: Callable[..., str],
        google: FakeGoogleCalendar, engine: sa.Engine, run_sync: Callable[..., SyncReport]) -> None:
    linked = conflict_setup(calendar, ana, make_appointment, google, engine, run_sync)
    event = google.event(ana.calendar_id, linked.event_id)
    assert event is not None
    with session_scope(engine) as s:  # despacho's change is stamped after Google's
        ours = s.get(Appointment, linked.appointment_id)
        assert ours is not None
        ours.updated_at = link(engine, linked.appointment_id).synced_at + timedelta(days=365)  # type: ignore[operator]
    run_sync(ana.calendar_id, policy="newest_wins")

    (conflict,) = conflicts(engine)
    assert (conflict.policy, conflict.winner) == ("newest_wins", "despacho")
    assert visit(engine, linked.appointment_id).starts_at == START + timedelta(hours=3)
