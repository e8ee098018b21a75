"""The daemon's calendar jobs end to end: Google pushes to the real webhook over HTTP, the job syncs.

The API runs under uvicorn on a free port (its ``public_url`` is the channel's address), the
fake Google POSTs its notifications there, and ``CalendarJobs`` does what the leader's
scheduler does each second. Everything talks through the real client and real HTTP.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import uvicorn
from sqlmodel import Session, select

from api.app import create_app
from api.settings import ApiSettings
from connectors.base import Runtime
from connectors.calendar import CalendarConnector
from connectors.calendar.channels import stop_channels
from connectors.calendar.settings import CalendarSettings
from engine.runtime.calendar_jobs import CalendarJobs
from engine.settings import DatabaseSettings, PathsSettings, Settings
from store.db import session_scope
from store.models import CalendarSyncState, Event
from store.secrets import SecretBox
from tests.api.test_ratelimit import free_port
from tests.connectors.calendar.conftest import (  # noqa: F401  (fixtures are found by name)
    START,
    Connected,
    box,
    calendar,
    calendar_settings,
    client_secrets,
    connect,
    google,
    make_appointment,
)
from tests.connectors.calendar.sync_support import create_linked, google_events, visit, when
from tests.engine.runtime.leader_helpers import wait_for
from tests.fakes.google_calendar import FakeGoogleCalendar
from tests.support.databases import emptied_engine, sqlite_copy

JWT_KEY = "test-key-" + "x" * 40


@pytest.fixture
def engine(migrated_template: Path, tmp_path: Path) -> Iterator[sa.Engine]:
    with emptied_engine(sqlite_copy(migrated_template, tmp_path)) as engine:
        yield engine


@pytest.fixture
def public_url(engine: sa.Engine, tmp_path: Path) -> Iterator[str]:
    """The API as served (uvicorn, real HTTP) on a free port: Google's pushes arrive here."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "templates").mkdir(exist_ok=True)
    settings = Settings(database=DatabaseSettings(url=str(engine.url)),
                        rules=PathsSettings(path=tmp_path / "rules"),
                        templates=PathsSettings(path=tmp_path / "templates"))
    api = ApiSettings(public_url=url, jwt_keys=f"t1:{JWT_KEY}", rate_limit_storage="memory://",
                      ip_rate_limit="10000/minute")
    server = uvicorn.Server(uvicorn.Config(create_app(settings, api=api, engine=engine), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 30, "the API server start")
    yield url
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def jobs(calendar_settings: CalendarSettings, engine: sa.Engine, box: SecretBox, tmp_path: Path,  # noqa: F811
         public_url: str) -> CalendarJobs:
    runtime = Runtime(outbox=tmp_path / "outbox", session=lambda: session_scope(engine), secrets=lambda: box)
    return CalendarJobs(calendar_settings, runtime, engine, public_url)


@pytest.fixture
def ana(connect: Callable[..., Connected]) -> Connected:  # noqa: F811
    return connect()


def sync_state(engine: sa.Engine, calendar_id: str) -> CalendarSyncState:
    with Session(engine) as session:
        found = session.get(CalendarSyncState, calendar_id)
    assert found is not None
    return found


def test_a_change_in_google_is_pushed_to_the_webhook_and_the_job_applies_it(
        jobs: CalendarJobs, ana: Connected, calendar: CalendarConnector,  # noqa: F811
        make_appointment: Callable[..., str], google: FakeGoogleCalendar, engine: sa.Engine,  # noqa: F811
        public_url: str) -> None:
    (linked,) = create_linked(calendar, make_appointment, ana.technician_id, ana.calendar_id, 1)
    assert jobs.keep_channels() == {ana.calendar_id: "watched"}  # the connected calendar gets a channel
    assert jobs.sync_all()[0].full  # the first sync of a watched calendar lists everything
    channel = google.channels[sync_state(engine, ana.calendar_id).channel_id or ""]
    assert channel.address == f"{public_url}/webhooks/google/calendar"

    start = START + timedelta(days=2)
    google.put_event(ana.calendar_id, {"id": linked.event_id, "start": when(start),
                                       "end": when(start + timedelta(hours=1))})
    assert google.push(ana.calendar_id) == [200]
    with Session(engine) as session:
        assert [e.type for e in session.exec(select(Event).where(Event.source == "google"))] == [
            "calendar.sync_requested"]
    assert visit(engine, linked.appointment_id).starts_at == START  # not in the request: in the job

    (report,) = jobs.serve_requests()
    assert (report.full, report.applied) == (False, 1)
    assert visit(engine, linked.appointment_id).starts_at == start
    assert [kind for kind, _, _ in google_events(engine)] == ["appointment.rescheduled"]
    assert jobs.serve_requests() == []  # served: the next look finds nothing to do


def test_a_push_that_arrives_while_nothing_changed_costs_one_empty_page(
        jobs: CalendarJobs, ana: Connected, google: FakeGoogleCalendar,  # noqa: F811
        engine: sa.Engine) -> None:
    jobs.keep_channels()
    jobs.sync_all()
    assert google.push(ana.calendar_id) == [200]
    (report,) = jobs.serve_requests()
    assert (report.pages, report.items) == (1, 0)


def test_a_channel_near_its_expiry_is_replaced_and_the_old_one_stopped(
        jobs: CalendarJobs, ana: Connected, google: FakeGoogleCalendar,  # noqa: F811
        engine: sa.Engine) -> None:
    jobs.keep_channels()
    old = sync_state(engine, ana.calendar_id)
    with session_scope(engine) as s:
        state = s.get(CalendarSyncState, ana.calendar_id)
        assert state is not None and state.channel_expires_at is not None
        # half a day left: within renew_before (1 day)
        state.channel_expires_at = state.channel_expires_at - timedelta(days=6, hours=12)
        state.last_message_number = 40
    assert jobs.keep_channels() == {ana.calendar_id: "renewed"}

    new = sync_state(engine, ana.calendar_id)
    assert new.channel_id not in (None, old.channel_id) and new.channel_token != old.channel_token
    assert set(google.channels) == {new.channel_id}
    assert new.last_message_number is None  # a new channel counts its messages from 1 again
    assert google.push(ana.calendar_id) == [200]


def test_stopping_a_calendars_channels_forgets_them_and_pushes_are_refused(
        jobs: CalendarJobs, ana: Connected, google: FakeGoogleCalendar,  # noqa: F811
        engine: sa.Engine, public_url: str) -> None:
    jobs.keep_channels()
    channel = google.channels[sync_state(engine, ana.calendar_id).channel_id or ""]
    assert stop_channels(jobs.clients.api(ana.calendar_id), jobs._sessions, ana.calendar_id)

    assert google.channels == {} and sync_state(engine, ana.calendar_id).channel_token is None
    google.channels[channel.id] = channel  # a channel Google kept sending on anyway
    assert google.push(ana.calendar_id) == [403]


def test_a_calendar_google_fails_on_waits_before_its_next_try(
        jobs: CalendarJobs, ana: Connected, google: FakeGoogleCalendar) -> None:  # noqa: F811
    google.fail_next(503, "backendError")
    assert jobs.sync(ana.calendar_id) is None
    assert jobs.sync(ana.calendar_id) is None  # backing off: Google is not asked again at once
    assert len([r for r in google.requests if r["path"].endswith("/events")]) == 1


@pytest.mark.parametrize(("transport", "jobs"), [
    ("google", ["ops-alerts", "calendar-sync-requests", "calendar-safety-net", "calendar-channels",
                "privacy-purge"]),
    ("file", ["ops-alerts", "privacy-purge"])])
def test_the_daemons_scheduler_runs_the_calendar_jobs_only_when_the_calendar_talks_to_google(
        tmp_path: Path, transport: str, jobs: list[str]) -> None:
    from engine.runtime.daemon import Daemon, Parts
    from engine.settings import load_settings
    from tests.engine.runtime.pipeline_helpers import make_project

    config = make_project(tmp_path, "rules: []\n",
                          connectors={"calendar": {"transport": transport, "sync_every": "10m"}})
    parts = Parts(relay=False, watch_rules=False, workers=False)
    daemon = Daemon(load_settings(str(config), environ={}), parts)
    try:
        assert daemon.scheduler is not None
        assert [job.name for job in daemon.scheduler.jobs] == jobs
        assert [job.every for job in daemon.scheduler.jobs][2:3] == ([600.0] if transport == "google" else [])
    finally:
        daemon.core.db.dispose()
