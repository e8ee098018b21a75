"""Fixtures: the fake Google Calendar, a technician with a connected calendar, the API client on it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.base import Runtime
from connectors.calendar import CalendarConnector
from connectors.calendar.settings import CalendarSettings
from store.db import session_scope
from store.keyring import KeyRing
from store.secrets import SecretBox, new_fernet_key, put_secret
from tests.fakes.google_calendar import CLIENT_ID, CLIENT_SECRET, FakeGoogleCalendar, google_calendar_server

CALENDAR = "ana.calendar@example.com"
START = datetime(2027, 3, 1, 12, tzinfo=UTC)  # a Monday, 09:00 in São Paulo


@dataclass
class Connected:
    technician_id: str
    connection_id: str
    calendar_id: str
    refresh_token: str


@pytest.fixture
def google() -> Iterator[FakeGoogleCalendar]:
    with google_calendar_server() as fake:
        yield fake


@pytest.fixture
def client_secrets(tmp_path: Path) -> Path:
    path = tmp_path / "client_secret.json"
    path.write_text(json.dumps({"installed": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                              "redirect_uris": ["http://localhost"]}}))
    return path


@pytest.fixture
def calendar_settings(google: FakeGoogleCalendar, client_secrets: Path) -> CalendarSettings:
    return CalendarSettings(transport="google", api_url=google.api_url, token_uri=google.token_uri,
                            client_secrets_file=client_secrets, timeout=5)


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(KeyRing((("k1", new_fernet_key()),)))


@pytest.fixture
def sessions(engine: sa.Engine) -> Callable[[], object]:
    return lambda: session_scope(engine)


@pytest.fixture
def connect(engine: sa.Engine, google: FakeGoogleCalendar, box: SecretBox) -> Callable[..., Connected]:
    """A technician whose calendar exists in the fake, connected through OAuth (a refresh token stored)."""
    from store.models import Technician
    from store.models.calendar import CalendarConnection

    def make(calendar_id: str = CALENDAR, name: str = "Ana Lima", *,
             working_hours: dict[str, list[str]] | None = None, connected: bool = True) -> Connected:
        google.add_calendar(calendar_id)
        token = google.grant(calendar_id)
        with session_scope(engine) as session:
            technician = Technician(name=name, region="sp-capital", google_calendar_id=calendar_id,
                                    working_hours=working_hours or {})
            session.add(technician)
            session.flush()
            connection_id = ""
            if connected:
                secret_name = f"calendar.oauth.{technician.id}"
                put_secret(session, box, secret_name, token)
                connection = CalendarConnection(technician_id=technician.id, kind="oauth",
                                                account=calendar_id, secret_name=secret_name)
                session.add(connection)
                session.flush()
                connection_id = connection.id
        return Connected(technician.id, connection_id, calendar_id, token)

    return make


@pytest.fixture
def calendar(calendar_settings: CalendarSettings, engine: sa.Engine, box: SecretBox,
             tmp_path: Path) -> CalendarConnector:
    """The connector on transport google, with the database and the secrets store (rate limit in memory)."""
    runtime = Runtime(outbox=tmp_path / "outbox", session=lambda: session_scope(engine), secrets=lambda: box,
                      timezone="America/Sao_Paulo")
    return CalendarConnector(calendar_settings, runtime)


@pytest.fixture
def make_appointment(engine: sa.Engine) -> Callable[..., str]:
    """An appointment (with its customer and order) for the technician; returns its id."""
    from store.models import Appointment, Customer, ServiceOrder

    def make(technician_id: str | None = None, start: datetime = START, hours: float = 1.0) -> str:
        with session_scope(engine) as session:
            customer = Customer(name="Maria Souza", phone="+5511987654321", email="maria@example.com")
            session.add(customer)
            session.flush()
            order = ServiceOrder(customer_id=customer.id, region="sp-capital", technician_id=technician_id,
                                 status="scheduled", scheduled_start=start,
                                 scheduled_end=start + timedelta(hours=hours))
            session.add(order)
            session.flush()
            visit = Appointment(order_id=order.id, technician_id=technician_id, starts_at=start,
                                ends_at=start + timedelta(hours=hours))
            session.add(visit)
            session.flush()
            return visit.id

    return make


from tests.connectors.calendar.visits import make_visit  # noqa: E402, F401  (a fixture, found by name)
