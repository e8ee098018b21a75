"""Applying Google's changes to appointments: echoes, moves, cancellations, conflicts per policy."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from connectors.calendar.changes import Kind, Outcome, apply_change, apply_page, remember_write
from connectors.calendar.settings import CalendarSettings
from store.db import make_engine
from store.migrate import upgrade
from store.models import Appointment, CalendarConflict, CalendarLink, Event
from tests.connectors.calendar.visits import CALENDAR, ENDS, STARTS, SYNCED_AT, Visit, item
from tests.support.catalogue import payload_errors
from tests.support.postgres import throwaway_pg_database

MOVED = (STARTS + timedelta(days=1), ENDS + timedelta(days=1))


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, migrated_template: Path, tmp_path: Path) -> Iterator[sa.Engine]:
    """Both databases: the page's visits are locked FOR UPDATE on PostgreSQL, JSON versions differ."""
    if request.param == "sqlite":
        shutil.copy(migrated_template, tmp_path / "despacho.db")
        engine = make_engine(f"sqlite:///{tmp_path / 'despacho.db'}")
        yield engine
        engine.dispose()
        return
    with throwaway_pg_database() as url:
        upgrade(url)
        engine = make_engine(url)
        yield engine
        engine.dispose()


def apply(engine: sa.Engine, body: dict[str, Any], policy: str = "despacho_wins",
          calendar: str = CALENDAR) -> Outcome:
    settings = CalendarSettings.model_validate({"conflict_policy": policy})
    with Session(engine) as session:
        outcome = apply_change(session, settings, calendar, body)
        session.commit()
    return outcome


def state(engine: sa.Engine, visit: Visit) -> tuple[Appointment, CalendarLink, list[Event]]:
    with Session(engine) as session:
        appointment = session.get(Appointment, visit.appointment_id)
        link = session.exec(select(CalendarLink)
                            .where(CalendarLink.appointment_id == visit.appointment_id)).one()
        events = list(session.exec(select(Event).order_by(Event.recorded_at)))
    assert appointment is not None
    return appointment, link, events


def touch_ours(engine: sa.Engine, visit: Visit, *, hours: int = 3, cancel: bool = False) -> None:
    """A change made in despacho since the last sync (a rule moved or cancelled the visit)."""
    with Session(engine) as session:
        appointment = session.get(Appointment, visit.appointment_id)
        assert appointment is not None
        if cancel:
            appointment.status = "cancelled"
        else:
            appointment.starts_at += timedelta(hours=hours)
            appointment.ends_at += timedelta(hours=hours)
        appointment.updated_at = SYNCED_AT + timedelta(minutes=30)
        session.commit()


def test_an_item_carrying_the_links_etag_is_despachos_own_write_and_changes_nothing(
        engine: sa.Engine, make_visit: Callable[..., Visit]) -> None:
    visit = make_visit()
    outcome = apply(engine, item(visit.event_id, *MOVED, etag='"e1"'))

    appointment, _, events = state(engine, visit)
    assert outcome.kind is Kind.ECHO
    assert (appointment.starts_at, appointment.ends_at) == (STARTS, ENDS) and events == []


def test_an_item_not_newer_than_the_last_one_seen_is_old_news(
        engine: sa.Engine, make_visit: Callable[..., Visit]) -> None:
    visit = make_visit()
    first = apply(engine, item(visit.event_id, *MOVED))
    again = apply(engine, item(visit.event_id, *MOVED, etag='"e-other"'))  # a restarted sync reads it again

    assert (first.kind, again.kind) == (Kind.APPLIED, Kind.ECHO)
    assert [e.type for e in state(engine, visit)[2]] == ["appointment.rescheduled"]


def test_a_move_in_google_reschedules_the_visit_and_records_the_event_from_google(
        engine: sa.Engine, make_visit: Callable[..., Visit]) -> None:
    visit = make_visit()
    outcome = apply(engine, item(visit.event_id, *MOVED))

    appointment, link, events = state(engine, visit)
    assert outcome == Outcome(Kind.APPLIED, visit.appointment_id)
    assert (appointment.starts_at, appointment.ends_at) == MOVED
    (event,) = events
    assert (event.type, event.source) == ("appointment.rescheduled", "google")
    assert event.payload["changed_by"] == "google"
    assert event.payload["previous_starts_at"] == STARTS.isoformat()
    assert event.payload["appointment"]["starts_at"] == MOVED[0].isoformat()
    assert event.payload["order"]["id"] == visit.order_id
    assert payload_errors(event.type, event.payload) == []
    assert link.etag == '"e2"' and link.synced_version is not None
    assert link.synced_version["start"] == MOVED[0].isoformat()


@pytest.mark.parametrize("body", [
    {"status": "cancelled"},  # deleted: an incremental sync sends the id and the status alone
    {"status": "cancelled", "start": {"dateTime": STARTS.isoformat()}, "end": {"dateTime": ENDS.isoformat()}},
], ids=["deleted", "cancelled"])
def test_a_cancelled_or_deleted_event_cancels_the_visit(
        engine: sa.Engine, make_visit: Callable[..., Visit], body: dict[str, Any]) -> None:
    visit = make_visit()
    outcome = apply(engine, {"id": visit.event_id, "etag": '"e3"', **body})

    appointment, _, events = state(engine, visit)
    assert outcome.kind is Kind.APPLIED and appointment.status == "cancelled"
    assert [(e.type, e.source, e.payload["previous_status"]) for e in events] == [
        ("appointment.cancelled", "google", "scheduled")]
    assert payload_errors(events[0].type, events[0].payload) == []


def test_a_new_title_in_google_updates_the_link_but_not_the_visit(
        engine: sa.Engine, make_visit: Callable[..., Visit]) -> None:
    visit = make_visit()
    outcome = apply(engine, item(visit.event_id, summary="Visita (portão azul)"))

    appointment, link, events = state(engine, visit)
    assert outcome.kind is Kind.UNCHANGED and events == []
    assert (appointment.starts_at, link.etag) == (STARTS, '"e2"')


def test_an_event_despacho_did_not_make_is_left_alone(
        engine: sa.Engine, make_visit: Callable[..., Visit]) -> None:
    make_visit()
    assert apply(engine, item("personal0001")).kind is Kind.NOT_OURS


def test_an_event_naming_an_unlinked_visit_of_its_calendar_is_linked_and_applied(
        engine: sa.Engine, make_visit: Callable[..., Visit]) -> None:
    visit = make_visit(linked=False)
    body = item("lostwrite001", *MOVED,
                extendedProperties={"private": {"despacho_appointment_id": visit.appointment_id}})
    outcome = apply(engine, body)

    appointment, link, _ = state(engine, visit)
    assert outcome.kind is Kind.APPLIED and appointment.starts_at == MOVED[0]
    assert (link.calendar_id, link.google_event_id) == (CALENDAR, "lostwrite001")


def test_a_completed_visit_is_history_and_google_cannot_move_it(
        engine: sa.Engine, make_visit: Callable[..., Visit]) -> None:
    visit = make_visit(status="completed")
    outcome = apply(engine, item(visit.event_id, *MOVED))

    appointment, _, events = state(engine, visit)
    assert outcome.kind is Kind.SKIPPED and "completed" in (outcome.reason or "")
    assert appointment.starts_at == STARTS and events == []


def test_both_sides_making_the_same_move_is_no_conflict(
        engine: sa.Engine, make_visit: Callable[..., Visit]) -> None:
    visit = make_visit()
    touch_ours(engine, visit, hours=24)
    outcome = apply(engine, item(visit.event_id, *MOVED))

    with Session(engine) as session:
        assert session.exec(select(CalendarConflict)).all() == []
    assert outcome.kind is Kind.UNCHANGED and state(engine, visit)[2] == []


def conflicts(engine: sa.Engine) -> list[CalendarConflict]:
    with Session(engine) as session:
        return list(session.exec(select(CalendarConflict)))


def test_google_wins_takes_googles_version_and_records_both(
        engine: sa.Engine, make_visit: Callable[..., Visit]) -> None:
    visit = make_visit()
    touch_ours(engine, visit, hours=3)
    outcome = apply(engine, item(visit.event_id, *MOVED), policy="google_wins")

    appointment, _, events = state(engine, visit)
    (conflict,) = conflicts(engine)
    assert (outcome.kind, outcome.winner, outcome.write_back) == (Kind.CONFLICT, "google", None)
    assert appointment.starts_at == MOVED[0] and [e.type for e in events] == ["appointment.rescheduled"]
    assert (conflict.policy, conflict.winner) == ("google_wins", "google")
    assert conflict.ours["start"] == (STARTS + timedelta(hours=3)).isoformat()
    assert conflict.theirs["start"] == MOVED[0].isoformat()


def test_despacho_wins_keeps_the_visit_and_asks_for_a_write_back(
        engine: sa.Engine, make_visit: Callable[..., Visit]) -> None:
    visit = make_visit()
    touch_ours(engine, visit, hours=3)
    outcome = apply(engine, item(visit.event_id, *MOVED), policy="despacho_wins")

    appointment, link, events = state(engine, visit)
    (conflict,) = conflicts(engine)
    assert (outcome.kind, outcome.winner) == (Kind.CONFLICT, "despacho")
    assert appointment.starts_at == STARTS + timedelta(hours=3) and events == []
    assert conflict.winner == "despacho"
    assert outcome.write_back is not None and outcome.write_back.event_id == visit.event_id
    assert outcome.write_back.version["start"] == (STARTS + timedelta(hours=3)).isoformat()
    assert link.etag == '"e2"'  # Google's version was seen; the write back answers it


def test_a_write_back_answered_by_google_makes_both_sides_agree_again(
        engine: sa.Engine, make_visit: Callable[..., Visit]) -> None:
    visit = make_visit()
    touch_ours(engine, visit, hours=3)
    outcome = apply(engine, item(visit.event_id, *MOVED))
    assert outcome.write_back is not None
    answer = item(visit.event_id, STARTS + timedelta(hours=3), ENDS + timedelta(hours=3), etag='"e9"',
                  updated=SYNCED_AT + timedelta(hours=5))
    with Session(engine) as session:
        remember_write(session, outcome.write_back, answer)
        session.commit()

    assert apply(engine, answer).kind is Kind.ECHO
    _, link, _ = state(engine, visit)
    assert link.synced_version == outcome.write_back.version


@pytest.mark.parametrize(("google_minutes", "winner"), [(60, "google"), (10, "despacho")])
def test_newest_wins_compares_googles_updated_with_the_visits(
        engine: sa.Engine, make_visit: Callable[..., Visit], google_minutes: int, winner: str) -> None:
    visit = make_visit()
    touch_ours(engine, visit, hours=3)  # despacho's change at SYNCED_AT + 30 min
    body = item(visit.event_id, *MOVED, updated=SYNCED_AT + timedelta(minutes=google_minutes))
    outcome = apply(engine, body, policy="newest_wins")

    (conflict,) = conflicts(engine)
    assert (outcome.winner, conflict.winner, conflict.policy) == (winner, winner, "newest_wins")


def test_a_google_move_against_a_cancellation_in_despacho_is_a_conflict(
        engine: sa.Engine, make_visit: Callable[..., Visit]) -> None:
    visit = make_visit()
    touch_ours(engine, visit, cancel=True)
    outcome = apply(engine, item(visit.event_id, *MOVED), policy="google_wins")

    (conflict,) = conflicts(engine)
    assert conflict.ours["status"] == "cancelled" and conflict.winner == "google"
    assert outcome.kind is Kind.SKIPPED  # a cancelled visit stays cancelled, the conflict says why


@pytest.mark.parametrize(("change", "field"), [
    ({"start": {"date": "2026-12-07"}, "end": {"date": "2026-12-08"}}, "start.date"),
    ({"end": {"dateTime": (STARTS - timedelta(hours=1)).isoformat()}}, "end.dateTime"),
    ({"start": {"dateTime": "2026-12-07T13:00:00"}}, "start.dateTime"),
    ({"start": {"dateTime": "x" * 5000}}, "start.dateTime"),
    ({"updated": ["not", "a", "time"]}, "updated"),
])
def test_an_item_that_cannot_be_a_visit_is_rejected_naming_the_field(
        engine: sa.Engine, make_visit: Callable[..., Visit], change: dict[str, Any], field: str) -> None:
    visit = make_visit()
    outcome = apply(engine, {**item(visit.event_id), **change})

    appointment, _, events = state(engine, visit)
    assert outcome.kind is Kind.REJECTED and f"{field}:" in (outcome.reason or "")
    assert visit.event_id in (outcome.reason or "")
    assert appointment.starts_at == STARTS and events == []


def test_a_page_mixing_echoes_moves_strangers_and_bad_items_applies_each_as_alone(
        engine: sa.Engine, make_visit: Callable[..., Visit]) -> None:
    echo, moved, cancelled = make_visit(), make_visit(), make_visit()
    page = [item(echo.event_id, etag='"e1"'), item(moved.event_id, *MOVED), "not an event",
            {"id": cancelled.event_id, "etag": '"e5"', "status": "cancelled"}, item("personal0002"),
            {**item(moved.event_id), "id": "x" * 2000}, {**item(moved.event_id), "id": ["not", "hashable"]}]
    settings = CalendarSettings()
    with Session(engine) as session:
        outcomes = apply_page(session, settings, CALENDAR, page)
        session.commit()

    assert sorted(o.kind for o in outcomes) == sorted([Kind.ECHO, Kind.APPLIED, Kind.REJECTED, Kind.APPLIED,
                                                       Kind.NOT_OURS, Kind.REJECTED, Kind.REJECTED])
    assert state(engine, moved)[0].starts_at == MOVED[0]
    assert state(engine, cancelled)[0].status == "cancelled"
    events = sorted(e.type for e in state(engine, echo)[2])
    assert events == ["appointment.cancelled", "appointment.rescheduled"]
