"""Google Calendar two-way sync in the daemon: pushes served, a safety-net sync, channels kept open.

Three built-in scheduler jobs, run by the leader only (``scheduler.BuiltinJob``):

- ``calendar-sync-requests`` (every second): the calendars with a stored push
  (``calendar.sync_requested``) newer than their last complete sync get an
  incremental sync — this is where a webhook's request ends up;
- ``calendar-safety-net`` (every ``sync_every``): an incremental sync of every
  watched calendar, for pushes Google never sent or that were refused;
- ``calendar-channels`` (every ``renew_before`` / 4, at most hourly): renews
  channels about to expire and opens one for each connected technician's
  calendar that has none.

A calendar is synced by one thread at a time; one that failed waits (2, 4, ...
up to 300 seconds) before its next try, so a Google outage is not polled every
second.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
import structlog
from sqlmodel import Session, col, select

from connectors.base import PermanentError, Runtime, TransientError
from connectors.calendar.channels import renew_channels, watch_calendar
from connectors.calendar.clients import CalendarClients
from connectors.calendar.settings import CalendarSettings
from connectors.calendar.sync import SyncReport, sync_calendar
from engine.runtime.scheduler import BuiltinJob
from store.calendar_sync import pending_sync_requests, watched_calendars
from store.db import session_scope
from store.durations import parse_duration
from store.models import CalendarSyncState, Technician
from store.types import utcnow

log = structlog.get_logger("despacho.calendar")

REQUEST_POLL_SECONDS = 1.0
REQUEST_LOOKBACK = timedelta(days=1)  # older pushes are covered by the safety net
MAX_BACKOFF = 300.0


@dataclass
class _Health:
    failures: int = 0
    retry_at: datetime | None = None


@dataclass
class CalendarJobs:
    settings: CalendarSettings
    runtime: Runtime
    db: sa.Engine
    public_url: str
    clients: CalendarClients = field(init=False)
    _locks: dict[str, threading.Lock] = field(default_factory=dict, init=False)
    _health: dict[str, _Health] = field(default_factory=dict, init=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self.clients = CalendarClients(self.settings, self.runtime)

    def jobs(self) -> list[BuiltinJob]:
        renew_every = min(3600.0, parse_duration(self.settings.renew_before).total_seconds() / 4)
        return [BuiltinJob("calendar-sync-requests", REQUEST_POLL_SECONDS, self.serve_requests),
                BuiltinJob("calendar-safety-net", parse_duration(self.settings.sync_every).total_seconds(),
                           self.sync_all),
                BuiltinJob("calendar-channels", renew_every, self.keep_channels)]

    # -- the jobs -------------------------------------------------------------------------

    def serve_requests(self) -> list[SyncReport]:
        """Sync every calendar Google pushed since its last complete sync."""
        with Session(self.db) as session:
            calendars = pending_sync_requests(session, utcnow() - REQUEST_LOOKBACK)
        return [report for calendar_id in calendars if (report := self.sync(calendar_id)) is not None]

    def sync_all(self) -> list[SyncReport]:
        with Session(self.db) as session:
            calendars = watched_calendars(session)
        return [report for calendar_id in calendars if (report := self.sync(calendar_id)) is not None]

    def keep_channels(self) -> dict[str, str]:
        now = utcnow()
        results = renew_channels(self.clients.api, self._sessions, self.settings, self.public_url, now)
        for calendar_id in self._unwatched():
            try:
                watch_calendar(self.clients.api(calendar_id), self._sessions, self.settings, calendar_id,
                               self.public_url)
                results[calendar_id] = "watched"
            except (PermanentError, TransientError) as exc:
                log.warning("calendar_watch_failed", calendar_id=calendar_id, error=str(exc))
                results[calendar_id] = str(exc)
        return results

    # -- one calendar ---------------------------------------------------------------------

    def sync(self, calendar_id: str) -> SyncReport | None:
        """An incremental sync of one calendar; ``None`` when it is busy, backing off, or failed."""
        lock = self._lock(calendar_id)
        if not lock.acquire(blocking=False):
            return None  # another job is syncing it right now: that sync covers this request
        try:
            health = self._health.setdefault(calendar_id, _Health())
            if health.retry_at is not None and utcnow() < health.retry_at:
                return None
            return self._sync(calendar_id, health)
        finally:
            lock.release()

    def _sync(self, calendar_id: str, health: _Health) -> SyncReport | None:
        try:
            report = sync_calendar(self.clients.api(calendar_id), self._sessions, self.settings, calendar_id,
                                   before_request=self.clients.acquire)
        except (PermanentError, TransientError) as exc:
            health.failures += 1
            wait = min(MAX_BACKOFF, 2.0 ** health.failures)
            if isinstance(exc, TransientError) and exc.retry_after:
                wait = max(wait, min(MAX_BACKOFF, exc.retry_after))
            health.retry_at = utcnow() + timedelta(seconds=wait)
            log.warning("calendar_sync_failed", calendar_id=calendar_id, error=str(exc), retry_in=wait)
            return None
        health.failures, health.retry_at = 0, None
        log.info("calendar_synced", calendar_id=calendar_id, full=report.full, pages=report.pages,
                 items=report.items, applied=report.applied, echoes=report.echoes, conflicts=report.conflicts)
        return report

    def _lock(self, calendar_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(calendar_id, threading.Lock())

    def _sessions(self) -> AbstractContextManager[Session]:
        return session_scope(self.db)

    def _unwatched(self) -> list[str]:
        """Technicians' calendars with a live connection and no channel yet."""
        from connectors.calendar.auth import find_connection

        with Session(self.db) as session:
            calendars = session.exec(select(Technician.google_calendar_id).where(
                col(Technician.google_calendar_id).is_not(None), col(Technician.deleted_at).is_(None))).all()
            watched = set(session.exec(select(CalendarSyncState.calendar_id)
                                       .where(col(CalendarSyncState.channel_id).is_not(None))))
            unwatched = []
            for calendar_id in calendars:
                if calendar_id is None or calendar_id in watched:
                    continue
                try:
                    if find_connection(session, calendar_id).status == "connected":
                        unwatched.append(calendar_id)
                except PermanentError:
                    continue  # not connected: nothing to watch with
        return unwatched
