"""Step leases: a worker renews the lease of each step it runs, so a dead worker's steps come back.

A claimed step is ``running`` until ``lease_until``. While its call runs the
worker's heartbeat extends the lease every ``heartbeat`` seconds; when the
worker dies (SIGKILL, lost machine, lost database) the lease lapses and the
reaper queues the step again, seconds later instead of minutes.

A step is renewed once it has been held half a heartbeat: the claim gave it a
whole lease, and most calls end well before that, so under load the heartbeat
rarely touches a row a worker is about to record (renewals were half the
lock waits of the records). The first renewal still comes by 1.5 heartbeats,
inside the lease (settings keep the heartbeat at most half of it). Renewals
run on the bookkeeping connection (autocommit, see ``Outbox.bookkeeping``), so
a row is locked only for its own statement.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import sqlalchemy as sa
import structlog

from store.db import session_scope
from store.runs import renew_leases
from store.types import utcnow

log = structlog.get_logger("despacho.leases")


class Leases:
    def __init__(self, db: sa.Engine, lease: timedelta, heartbeat: timedelta) -> None:
        self.db = db
        self.lease = lease
        self.heartbeat = heartbeat
        # step id -> (the attempt this process claimed, monotonic time of its claim or last renewal)
        self._held: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, step_id: str, attempt: int) -> None:
        """A step just claimed (its lease starts now)."""
        with self._lock:
            self._held[step_id] = (attempt, time.monotonic())

    def release(self, step_id: str) -> None:
        with self._lock:
            self._held.pop(step_id, None)

    def renew(self) -> int:
        """Extend the leases held (or last renewed) half a heartbeat ago or more; how many."""
        now = time.monotonic()
        since = now - self.heartbeat.total_seconds() / 2
        with self._lock:
            fenced = [(step_id, attempt) for step_id, (attempt, renewed) in self._held.items()
                      if renewed <= since]
        if not fenced:
            return 0
        until = utcnow() + self.lease
        with session_scope(self.db) as session:
            renewed = renew_leases(session, fenced, until)
        with self._lock:
            for step_id, attempt in fenced:
                if step_id in self._held:
                    self._held[step_id] = (attempt, now)
        return renewed

    def start(self) -> None:
        self._thread = threading.Thread(target=self._beat, name="despacho-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _beat(self) -> None:
        while not self._stopping.wait(self.heartbeat.total_seconds()):
            try:
                self.renew()
            except Exception as exc:  # the database is away: the leases lapse, the steps come back
                log.warning("lease_renewal_failed", held=len(self._held), error=str(exc))
