"""End to end: a rule's calendar.create_event on a demo appointment reaches Google (the fake), links back."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from store.db import session_scope
from store.keyring import KeyRing
from store.models import Appointment, Technician
from store.models.calendar import CalendarConnection, CalendarLink
from store.secrets import SecretBox, new_fernet_key, put_secret
from store.seed import seed_demo
from tests.engine.runtime.pipeline_helpers import make_driver, make_project
from tests.fakes.google_calendar import CLIENT_ID, CLIENT_SECRET, FakeGoogleCalendar, google_calendar_server

RULE = """
rules:
  - id: appointment-to-calendar
    on: appointment.scheduled
    do:
      - id: calendar_event
        calendar.create_event:
          calendar_id: "{{ data.technician.google_calendar_id }}"
          appointment_id: "{{ data.appointment.id }}"
          summary: "OS {{ data.order.id[:8] | upper }} · {{ data.order.description }}"
          start: "{{ data.appointment.starts_at }}"
          end: "{{ data.appointment.ends_at }}"
          attendees: ["{{ data.technician.email }}"]
"""


@pytest.fixture
def google() -> Iterator[FakeGoogleCalendar]:
    with google_calendar_server() as fake:
        yield fake


def configure(root: Path, google: FakeGoogleCalendar, key: str) -> Path:
    config = make_project(root, RULE)
    secrets_file = root / "client_secret.json"
    client = {"installed": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}}
    secrets_file.write_text(json.dumps(client))
    with config.open("a", encoding="utf-8") as out:
        out.write(textwrap.dedent(f"""
            secrets: {{keys: "k1:{key}"}}
            connectors:
              calendar:
                transport: google
                api_url: "{google.api_url}"
                token_uri: "{google.token_uri}"
                client_secrets_file: "{secrets_file}"
        """))
    return config


def test_create_event_rule_on_a_demo_appointment_writes_to_google_and_links_it(
        tmp_path: Path, google: FakeGoogleCalendar) -> None:
    key = new_fernet_key()
    driver = make_driver(configure(tmp_path, google, key))
    db = driver.core.db
    with session_scope(db) as session:
        seed_demo(session, seed=7, at=datetime(2026, 12, 1, 12, tzinfo=UTC), customers=5, technicians=3,
                  orders=20)
    with session_scope(db) as session:
        visit = session.exec(select(Appointment).where(col(Appointment.technician_id).is_not(None))).first()
        assert visit is not None
        technician = session.get(Technician, visit.technician_id)
        assert technician is not None
        technician.google_calendar_id = "tecnico@example.com"
        google.add_calendar(technician.google_calendar_id)
        put_secret(session, SecretBox(KeyRing((("k1", key),))), "calendar.oauth.t1",
                   google.grant(technician.google_calendar_id))
        session.add(CalendarConnection(technician_id=technician.id, account=technician.google_calendar_id,
                                       secret_name="calendar.oauth.t1"))
        order = visit.order_id
        data = {"appointment": {"id": visit.id, "starts_at": visit.starts_at.isoformat(),
                                "ends_at": visit.ends_at.isoformat()},
                "order": {"id": order, "description": "Manutenção"},
                "technician": {"id": technician.id, "email": technician.email,
                               "google_calendar_id": technician.google_calendar_id}}
    driver.emit("appointment.scheduled", "evt-calendar-1", **data)
    driver.drain()
    events = google.events("tecnico@example.com")
    assert len(events) == 1 and events[0]["summary"].startswith(f"OS {order[:8].upper()}")
    with Session(db) as session:
        query = select(CalendarLink).where(CalendarLink.appointment_id == data["appointment"]["id"])
        link = session.exec(query).one()
        assert (link.google_event_id, link.etag) == (events[0]["id"], events[0]["etag"])
    driver.core.close()
