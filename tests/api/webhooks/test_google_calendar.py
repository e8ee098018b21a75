"""Google Calendar push notices: a known channel with its token asks for a sync; anything else is refused."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from store.db import session_scope
from store.models import CalendarSyncState, Event
from tests.support.catalogue import payload_errors

PATH = "/webhooks/google/calendar"
CALENDAR = "joao@example.com"
CHANNEL = "0b6f2c1e-5a7c-4e1b-9d3f-2a8c7e6b5d41"
TOKEN = "s3cr3t-token-" + "x" * 30
RESOURCE = "ret08u3rv24htgh289g"


@pytest.fixture
def watched(db_engine: sa.Engine) -> None:
    with session_scope(db_engine) as s:
        s.add(CalendarSyncState(calendar_id=CALENDAR, channel_id=CHANNEL, channel_token=TOKEN,
                                channel_resource_id=RESOURCE))


def notice(number: int = 2, state: str = "exists", **override: str | bytes) -> dict[str, str | bytes]:
    headers: dict[str, str | bytes] = {
               "X-Goog-Channel-ID": CHANNEL, "X-Goog-Channel-Token": TOKEN, "X-Goog-Resource-ID": RESOURCE,
               "X-Goog-Resource-State": state, "X-Goog-Message-Number": str(number),
               "X-Goog-Resource-URI": f"https://www.googleapis.com/calendar/v3/calendars/{CALENDAR}/events",
               "X-Goog-Channel-Expiration": "Sat, 12 Dec 2026 10:00:00 GMT"}
    headers.update(override)
    return headers


def stored(db_engine: sa.Engine) -> tuple[list[Event], CalendarSyncState]:
    with Session(db_engine) as session:
        events = list(session.exec(select(Event)))
        state = session.get(CalendarSyncState, CALENDAR)
    assert state is not None
    return events, state


@pytest.mark.parametrize("state", ["exists", "not_exists"])
def test_a_change_notice_stores_a_sync_request_for_the_calendar(
        client: TestClient, db_engine: sa.Engine, watched: None, state: str) -> None:
    answer = client.post(PATH, headers=notice(7, state))

    events, sync_state = stored(db_engine)
    assert answer.status_code == 200
    (event,) = events
    assert (event.type, event.source, event.id) == ("calendar.sync_requested", "google",
                                                    f"calendar.sync_requested:{CHANNEL}:7")
    assert event.payload == {"calendar_id": CALENDAR, "resource_state": state, "message_number": 7,
                             "channel_id": CHANNEL}
    assert payload_errors(event.type, event.payload) == []
    assert sync_state.last_message_number == 7


def test_the_channels_first_sync_message_is_acknowledged_and_requests_nothing(
        client: TestClient, db_engine: sa.Engine, watched: None) -> None:
    assert client.post(PATH, headers=notice(1, "sync")).status_code == 200
    events, state = stored(db_engine)
    assert events == [] and state.last_message_number == 1


def test_a_replayed_notice_is_acknowledged_and_ignored(
        client: TestClient, db_engine: sa.Engine, watched: None) -> None:
    answers = [client.post(PATH, headers=notice(n)).status_code for n in (5, 5, 3, 6)]

    events, state = stored(db_engine)
    assert answers == [200, 200, 200, 200]
    assert sorted(e.payload["message_number"] for e in events) == [5, 6]
    assert state.last_message_number == 6


@pytest.mark.parametrize(("override", "reason"), [
    ({"X-Goog-Channel-Token": "guessed"}, "wrong token"),
    ({"X-Goog-Channel-ID": "a0b1c2d3-0000-4000-8000-000000000000"}, "unknown channel"),
    ({"X-Goog-Resource-ID": "another-resource"}, "resource id does not match"),
    ({"X-Goog-Channel-Token": ""}, "no X-Goog-Channel-Token"),
], ids=["forged-token", "unknown-channel", "other-resource", "no-token"])
def test_a_notice_that_is_not_from_our_channel_is_refused_and_logged_without_the_token(
        client: TestClient, db_engine: sa.Engine, watched: None, caplog: pytest.LogCaptureFixture,
        override: dict[str, str], reason: str) -> None:
    with caplog.at_level(logging.WARNING, logger="despacho.api.webhooks"):
        answer = client.post(PATH, headers=notice(**override))

    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "sender_not_verified"
    assert reason in caplog.text and TOKEN not in caplog.text and "guessed" not in caplog.text
    assert stored(db_engine)[0] == []


@pytest.mark.parametrize(("header", "value"), [
    ("X-Goog-Resource-State", "exploded"), ("X-Goog-Message-Number", "-1"),
    ("X-Goog-Message-Number", "9" * 30), ("X-Goog-Message-Number", "１２".encode()),
])
def test_a_verified_notice_with_a_malformed_header_is_a_400_naming_it(
        client: TestClient, db_engine: sa.Engine, watched: None, header: str, value: str | bytes) -> None:
    answer = client.post(PATH, headers=notice(**{header: value}))
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith(header)
    assert stored(db_engine)[0] == []


def test_the_route_is_documented_with_its_refusals(client: TestClient) -> None:
    operation: dict[str, Any] = client.get("/openapi.json").json()["paths"][PATH]["post"]
    assert {"200", "403"} <= set(operation["responses"])
