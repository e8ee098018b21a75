"""Step leases: a worker renews the lease of each step it runs, so a dead worker's steps come back.

A claimed step is ``running`` until ``lease_until``. While its call runs the
worker's heartbeat extends the lease every ``heartbeat`` seconds; when the
worker dies (SIGKILL, lost machine, lost database) the lease lapses and the
reaper queues the step again, seconds later instead of minutes.
"""

from __future__ import annotations

import threading
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
        self._held: dict[str, int] = {}  # step id -> the attempt this process claimed
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, step_id: str, attempt: int) -> None:
        with self._lock:
            self._held[step_id] = attempt

    def release(self, step_id: str) -> None:
        with self._lock:
            self._held.pop(step_id, None)

    def renew(self) -> int:
        with self._lock:
            fenced = list(self._held.items())
        if not fenced:
            return 0
        with session_scope(self.db) as session:
            return renew_leases(session, fenced, utcnow() + self.lease)

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
