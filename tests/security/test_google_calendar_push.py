"""Attacks on Google Calendar sync, replayed: forged pushes, replays, oversized headers, forged
sync requests through the API, and an event that names someone else's appointment.

Google signs nothing, so a push is trusted only when it names a channel despacho opened, with
that channel's secret token and Google's resource id. A forged push could at worst make
despacho sync a calendar; still, nothing is stored for it and its token never reaches a log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from connectors.calendar.changes import Kind, apply_change
from connectors.calendar.settings import CalendarSettings
from store.db import session_scope
from store.models import Appointment, CalendarLink, CalendarSyncState, Event
from tests.api.conftest import forge_token
from tests.api.webhooks.test_google_calendar import CALENDAR, CHANNEL, PATH, TOKEN, notice, watched  # noqa: F401
from tests.connectors.calendar.visits import ENDS, STARTS, Visit, item, make_visit  # noqa: F401

OTHER_CALENDAR = "ana@example.com"
OTHER_CHANNEL = "7d2e0c55-1111-4aaa-8bbb-0123456789ab"
OTHER_TOKEN = "other-calendars-token-" + "y" * 20


def events(engine: sa.Engine) -> list[Event]:
    with Session(engine) as session:
        return list(session.exec(select(Event)))


def test_a_token_guessed_many_times_is_refused_every_time_and_stores_nothing(
        client: TestClient, db_engine: sa.Engine, watched: None) -> None:  # noqa: F811
    answers = {client.post(PATH, headers=notice(n, **{"X-Goog-Channel-Token": f"guess-{n}"})).status_code
               for n in range(2, 40)}
    assert answers == {403} and events(db_engine) == []


def test_another_calendars_token_does_not_open_this_channel(
        client: TestClient, db_engine: sa.Engine, watched: None) -> None:  # noqa: F811
    with session_scope(db_engine) as s:
        s.add(CalendarSyncState(calendar_id=OTHER_CALENDAR, channel_id=OTHER_CHANNEL,
                                channel_token=OTHER_TOKEN, channel_resource_id="other-resource"))
    answer = client.post(PATH, headers=notice(**{"X-Goog-Channel-Token": OTHER_TOKEN}))
    assert answer.status_code == 403 and events(db_engine) == []


def test_a_channel_that_was_stopped_accepts_nothing(
        client: TestClient, db_engine: sa.Engine, watched: None) -> None:  # noqa: F811
    with session_scope(db_engine) as s:
        state = s.get(CalendarSyncState, CALENDAR)
        assert state is not None
        state.channel_id = state.channel_token = state.channel_resource_id = None
    assert client.post(PATH, headers=notice()).status_code == 403


@pytest.mark.parametrize("header", ["X-Goog-Channel-ID", "X-Goog-Channel-Token", "X-Goog-Resource-ID"])
def test_an_oversized_channel_header_is_refused_before_any_lookup(
        client: TestClient, db_engine: sa.Engine, watched: None, caplog: pytest.LogCaptureFixture,  # noqa: F811
        header: str) -> None:
    with caplog.at_level(logging.WARNING, logger="despacho.api.webhooks"):
        answer = client.post(PATH, headers=notice(**{header: "A" * 8000}))
    assert answer.status_code == 403
    assert f"{header} longer than" in caplog.text and "A" * 300 not in caplog.text
    assert events(db_engine) == []


def test_a_captured_notice_replayed_later_requests_no_second_sync(
        client: TestClient, db_engine: sa.Engine, watched: None) -> None:  # noqa: F811
    captured = notice(12)
    assert [client.post(PATH, headers=captured).status_code for _ in range(5)] == [200] * 5
    assert len(events(db_engine)) == 1


def test_an_api_client_cannot_forge_a_sync_request_or_speak_as_google(
        client: TestClient, db_engine: sa.Engine, make_client: Callable[..., tuple[str, str]]) -> None:
    client_id, _ = make_client("events:write", event_types=("*",))
    headers = {"Authorization": f"Bearer {forge_token(sub=client_id, scope='events:write')}"}
    forged: dict[str, Any] = {"type": "calendar.sync_requested", "data": {"calendar_id": CALENDAR}}
    by_type = client.post("/v1/events", headers=headers, json=forged)
    by_id = client.post("/v1/events", headers=headers,
                        json={"type": "appointment.cancelled", "id": f"calendar.sync_requested:{CHANNEL}:9"})
    by_source = client.post("/v1/events", headers=headers,
                            json={"type": "appointment.cancelled", "source": "google"})
    assert [r.status_code for r in (by_type, by_id, by_source)] == [422, 422, 422]
    assert events(db_engine) == []


@pytest.fixture
def engine(db_engine: sa.Engine) -> sa.Engine:
    return db_engine


def test_an_event_naming_another_technicians_appointment_cannot_move_it(
        engine: sa.Engine, make_visit: Callable[..., Visit]) -> None:  # noqa: F811
    """Anyone who can edit a calendar can write the private property; it must not reach other visits."""
    victim = make_visit(linked=False, calendar=OTHER_CALENDAR)
    linked = make_visit()
    settings = CalendarSettings()
    forged = [item(f"forged{n:04d}", extendedProperties={"private": {"despacho_appointment_id": target}},
                   status="cancelled")
              for n, target in enumerate((victim.appointment_id, linked.appointment_id))]
    with Session(engine) as session:
        outcomes = [apply_change(session, settings, "joao@example.com", body) for body in forged]
        session.commit()
    with Session(engine) as session:
        visits = [session.get(Appointment, v.appointment_id) for v in (victim, linked)]
        links = session.exec(select(CalendarLink)).all()
    assert [o.kind for o in outcomes] == [Kind.NOT_OURS, Kind.NOT_OURS]
    assert [v.status for v in visits if v] == ["scheduled", "scheduled"]
    assert [link.google_event_id for link in links] == [linked.event_id]
    assert visits[1] is not None and (visits[1].starts_at, visits[1].ends_at) == (STARTS, ENDS)
