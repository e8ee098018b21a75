"""End to end: a rule's calendar.create_event on a demo appointment reaches Google (the fake), links back."""

from __future__ import annotations

import json
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
from tests.engine.runtime.pipeline_helpers import make_driver, make_project, run_retries_now
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
    secrets_file = root / "client_secret.json"
    client = {"installed": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}}
    secrets_file.write_text(json.dumps(client))
    config = make_project(root, RULE, connectors={"calendar": {
        "transport": "google", "api_url": google.api_url, "token_uri": google.token_uri,
        "client_secrets_file": str(secrets_file)}})
    with config.open("a", encoding="utf-8") as out:
        out.write(f'secrets: {{keys: "k1:{key}"}}\n')
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


def shipped_project(root: Path, google: FakeGoogleCalendar, key: str) -> Path:
    """The example rules as shipped (``rules/appointments.yaml``) and the shipped templates."""
    import shutil

    repository = Path(__file__).resolve().parents[3]
    config = configure(root, google, key)
    (root / "rules" / "r.yaml").unlink()
    shutil.copy(repository / "rules" / "appointments.yaml", root / "rules" / "appointments.yaml")
    text = config.read_text(encoding="utf-8").replace(f"templates: {{path: {root / 'templates'}}}",
                                                     f"templates: {{path: {repository / 'templates'}}}")
    config.write_text(text + "\ncompany: {name: Refrigeração Polar}\n", encoding="utf-8")
    return config


def test_the_shipped_rules_put_a_demo_visit_on_google_and_a_move_in_google_comes_back_once(
        tmp_path: Path, google: FakeGoogleCalendar) -> None:
    """appointment.scheduled (the records' own fields) -> event in Google; moved in Google -> the sync
    moves the visit and records appointment.rescheduled (source google), whose shipped rule tells the
    customer and does not write the move back to Google (no echo, no loop)."""
    from datetime import timedelta

    from connectors.base import Runtime
    from connectors.calendar.settings import CalendarSettings
    from engine.runtime.calendar_jobs import CalendarJobs
    from store.models import Customer, Event, ServiceOrder
    from store.models.runs import RuleRun, RuleStep
    from store.payloads import record_data

    key = new_fernet_key()
    driver = make_driver(shipped_project(tmp_path, google, key))
    db = driver.core.db
    box = SecretBox(KeyRing((("k1", key),)))
    with session_scope(db) as session:
        seed_demo(session, seed=11, at=datetime(2026, 12, 1, 12, tzinfo=UTC), customers=5, technicians=3,
                  orders=20)
    with session_scope(db) as session:
        visit = session.exec(select(Appointment).where(col(Appointment.technician_id).is_not(None),
                                                       Appointment.status == "confirmed")).first()
        assert visit is not None
        technician = session.get(Technician, visit.technician_id)
        order = session.get(ServiceOrder, visit.order_id)
        assert technician is not None and order is not None
        customer = session.get(Customer, order.customer_id)
        calendar_id = technician.google_calendar_id = "tecnico.demo@example.com"
        google.add_calendar(calendar_id)
        put_secret(session, box, "calendar.oauth.demo", google.grant(calendar_id))
        session.add(CalendarConnection(technician_id=technician.id, account=calendar_id,
                                       secret_name="calendar.oauth.demo"))
        session.flush()
        data = {"appointment": record_data("appointment", visit), "order": record_data("order", order),
                "customer": record_data("customer", customer),
                "technician": record_data("technician", technician)}
        visit_id = visit.id
    driver.emit("appointment.scheduled", "evt-demo-scheduled", **data)
    driver.drain()
    [created] = google.events(calendar_id)
    assert created["extendedProperties"]["private"] == {"despacho_appointment_id": visit_id}

    settings = CalendarSettings(transport="google", api_url=google.api_url, token_uri=google.token_uri,
                                client_secrets_file=tmp_path / "client_secret.json")
    runtime = Runtime(outbox=tmp_path / "outbox", session=lambda: session_scope(db), secrets=lambda: box)
    jobs = CalendarJobs(settings, runtime, db, "https://despacho.example.com")
    assert jobs.keep_channels() == {calendar_id: "watched"}
    assert [report.applied for report in jobs.sync_all()] == [0]  # our own event comes back as an echo
    moved = datetime(2027, 1, 11, 13, tzinfo=UTC)
    google.put_event(calendar_id, {"id": created["id"], "start": {"dateTime": moved.isoformat()},
                                   "end": {"dateTime": (moved + timedelta(hours=2)).isoformat()}})
    writes_before = len([r for r in google.requests if r["method"] != "GET"])
    assert [report.applied for report in jobs.sync_all()] == [1]
    driver.drain()
    run_retries_now(driver)  # inside the rule's quiet hours (21h-8h in São Paulo) the run waits: release it

    with Session(db) as session:
        rescheduled = session.exec(select(Event).where(Event.type == "appointment.rescheduled")).one()
        assert rescheduled.source == "google" and rescheduled.payload["appointment"]["id"] == visit_id
        assert session.get(Appointment, visit_id).starts_at.replace(tzinfo=UTC) == moved  # type: ignore[union-attr]
        run = session.exec(select(RuleRun).where(RuleRun.event_id == rescheduled.id)).one()
        assert run.rule_id == "appointment-rescheduled-update-calendar"
        rows = session.exec(select(RuleStep).where(RuleStep.run_id == run.id))
        steps = {step.action: step for step in rows}
    assert steps["calendar.update_event"].status == "skipped"  # no data.calendar_link: Google has the move
    # the customer is told: free text on WhatsApp outside the 24 h window fails, the e-mail fallback goes
    # (or both wait, when the test runs inside the customer's quiet hours)
    told = [steps[action].status for action in ("whatsapp.send", "email.send") if action in steps]
    assert "succeeded" in told or steps["whatsapp.send"].hold_reason, told
    assert [r for r in google.requests if r["method"] != "GET"][writes_before:] == []  # nothing written back
    assert [report.applied for report in jobs.sync_all()] == [0]  # and nothing comes back again
    driver.core.close()
