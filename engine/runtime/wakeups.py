"""Wake-ups for the relay: PostgreSQL tells listening processes that events were stored.

Without them a relay finds new events at its next poll (``execution.poll_interval``),
which was most of the time from an accepted event to its step starting. Intake sends a
``NOTIFY`` in the transaction that stores events; here one connection per process
``LISTEN``s and sets the relay's wake-up. A lost connection only means polling until it is
back: the poll stays the floor, so nothing depends on a notification arriving.
"""

from __future__ import annotations

import threading

import psycopg
import structlog
from sqlalchemy.engine import make_url

from engine.runtime.intake import EVENTS_CHANNEL

log = structlog.get_logger("despacho.wakeups")

RECONNECT_AFTER_S = 2.0


def libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL as psycopg takes it (no driver suffix)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class EventWakeups:
    def __init__(self, database_url: str, wakeup: threading.Event) -> None:
        self.url = libpq_url(database_url)
        self.wakeup = wakeup
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._listen_forever, name="despacho-wakeups", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _listen_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen()
            except psycopg.Error as exc:  # the database is away: the relay polls meanwhile
                log.warning("event_wakeups_lost", error=str(exc).splitlines()[0] if str(exc) else repr(exc))
                self._stopping.wait(RECONNECT_AFTER_S)

    def _listen(self) -> None:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"LISTEN {EVENTS_CHANNEL}")
            self.wakeup.set()  # events stored while nobody listened
            while not self._stopping.is_set():
                for _ in conn.notifies(timeout=0.5):
                    self.wakeup.set()
