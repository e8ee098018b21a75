"""PostgreSQL wakes the relay when events are stored, and keeps doing so after a lost connection."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa

from engine.language.events import Event
from engine.runtime.intake import accept_events
from engine.runtime.wakeups import EventWakeups, libpq_url
from store.db import make_engine, session_scope
from store.migrate import upgrade
from tests.support.postgres import throwaway_pg_database


@pytest.fixture
def pg_url() -> Iterator[str]:
    with throwaway_pg_database() as url:
        upgrade(url)
        yield url


@pytest.fixture
def listening(pg_url: str) -> Iterator[tuple[EventWakeups, threading.Event]]:
    wakeup = threading.Event()
    wakeups = EventWakeups(pg_url, wakeup)
    wakeups.start()
    assert wakeup.wait(10), "the listener never connected"
    try:
        yield wakeups, wakeup
    finally:
        wakeups.stop()


def store(engine: sa.Engine, event_id: str) -> None:
    with session_scope(engine) as session:
        accept_events(session, [Event(type="t.done", id=event_id)])


def test_storing_an_event_wakes_the_listening_relay(pg_url: str,
                                                    listening: tuple[EventWakeups, threading.Event]) -> None:
    _, wakeup = listening
    wakeup.clear()
    engine = make_engine(pg_url)
    store(engine, "e1")
    assert wakeup.wait(10)
    engine.dispose()


def test_the_listener_reconnects_after_its_connection_is_killed(
        pg_url: str, listening: tuple[EventWakeups, threading.Event]) -> None:
    _, wakeup = listening
    with psycopg.connect(libpq_url(pg_url), autocommit=True) as admin:
        # this test's own database only: other test runs on the shared server listen too
        killed = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                               "WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid() "
                               "AND datname = current_database()").fetchone()
    assert killed == (1,)
    wakeup.clear()
    assert wakeup.wait(15), "no wake-up after the listener's connection was killed"  # it says so on reconnect
    wakeup.clear()
    engine = make_engine(pg_url)
    store(engine, "e2")
    assert wakeup.wait(10)
    engine.dispose()
