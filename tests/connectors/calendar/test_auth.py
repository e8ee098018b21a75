"""Credentials of the account acting on a calendar: refresh, expiry tracking, a revoked grant."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from connectors.calendar.api import CalendarApi
from connectors.calendar.auth import credentials_for
from connectors.calendar.settings import CalendarSettings
from errors import PermanentError
from store.models import Event
from store.models.calendar import CalendarConnection
from store.secrets import SecretBox
from tests.connectors.calendar.conftest import Connected
from tests.fakes.google_calendar import FakeGoogleCalendar
from tests.support.catalogue import payload_errors


def connection(engine: sa.Engine, connection_id: str) -> CalendarConnection:
    with Session(engine) as session:
        found = session.get(CalendarConnection, connection_id)
        assert found is not None
        return found


def auth_failed_events(engine: sa.Engine) -> list[dict[str, Any]]:
    with Session(engine) as session:
        return [e.payload for e in session.exec(select(Event).where(Event.type == "calendar.auth_failed"))]


def test_refresh_gets_a_token_that_the_api_accepts_and_records_its_expiry(
        calendar_settings: CalendarSettings, sessions: Any, box: SecretBox, engine: sa.Engine,
        connect: Callable[..., Connected], google: FakeGoogleCalendar) -> None:
    ana = connect()
    credentials = credentials_for(calendar_settings, sessions, ana.calendar_id, box=box)
    assert credentials.valid
    assert google.token_requests[-1]["refresh_token"] == ana.refresh_token
    CalendarApi(calendar_settings, credentials).list_page(ana.calendar_id)
    assert connection(engine, ana.connection_id).token_expires_at is not None


def test_an_expired_access_token_is_refreshed_by_the_client(
        calendar_settings: CalendarSettings, sessions: Any, box: SecretBox,
        connect: Callable[..., Connected], google: FakeGoogleCalendar) -> None:
    ana = connect()
    credentials = credentials_for(calendar_settings, sessions, ana.calendar_id, box=box)
    api = CalendarApi(calendar_settings, credentials)
    google.expire_access_tokens()
    api.list_page(ana.calendar_id)
    assert len(google.token_requests) == 2


def test_a_revoked_grant_marks_the_connection_broken_once_and_later_calls_fail_at_once(
        calendar_settings: CalendarSettings, sessions: Any, box: SecretBox, engine: sa.Engine,
        connect: Callable[..., Connected], google: FakeGoogleCalendar) -> None:
    ana = connect()
    google.revoke(ana.refresh_token)
    with pytest.raises(PermanentError) as caught:
        credentials_for(calendar_settings, sessions, ana.calendar_id, box=box)
    assert caught.value.code == "calendar_auth"
    assert f"despacho calendar connect --technician {ana.technician_id}" in str(caught.value)
    broken = connection(engine, ana.connection_id)
    assert broken.status == "broken" and "invalid_grant" in (broken.broken_reason or "")
    assert auth_failed_events(engine) == [{"connection_id": ana.connection_id,
                                           "technician_id": ana.technician_id,
                                           "account": ana.calendar_id, "reason": broken.broken_reason}]
    assert payload_errors("calendar.auth_failed", auth_failed_events(engine)[0]) == []
    asked = len(google.token_requests)
    with pytest.raises(PermanentError) as again:
        credentials_for(calendar_settings, sessions, ana.calendar_id, box=box)
    assert again.value.code == "calendar_auth"
    assert len(google.token_requests) == asked
    assert len(auth_failed_events(engine)) == 1


def test_a_technician_without_a_connection_is_told_to_connect(
        calendar_settings: CalendarSettings, sessions: Any, box: SecretBox,
        connect: Callable[..., Connected]) -> None:
    bia = connect("bia@example.com", "Bia", connected=False)
    with pytest.raises(PermanentError) as caught:
        credentials_for(calendar_settings, sessions, bia.calendar_id, box=box)
    assert caught.value.code == "calendar_not_connected"
    assert f"despacho calendar connect --technician {bia.technician_id}" in str(caught.value)


def test_a_calendar_of_nobody_is_refused(calendar_settings: CalendarSettings, sessions: Any, box: SecretBox,
                                         connect: Callable[..., Connected]) -> None:
    connect()
    with pytest.raises(PermanentError) as caught:
        credentials_for(calendar_settings, sessions, "stranger@example.com", box=box)
    assert caught.value.code == "calendar_unknown"
