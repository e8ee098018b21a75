"""One authorised ``CalendarApi`` per Google account and worker thread, reused across calls.

Each call still reads the connection (a broken one fails at once, a reconnected one gets a
new client because its token changed); the access token is fetched once and refreshed by
the client when it expires. ``httplib2`` connections are not thread-safe, hence a cache
per thread.
"""

from __future__ import annotations

import threading
from functools import partial

from connectors.base import PermanentError, Runtime
from connectors.calendar.api import CalendarApi
from connectors.calendar.auth import (
    SessionFactory,
    build_credentials,
    load_grant,
    record_expiry,
    refresh,
    refresh_failed,
)
from connectors.calendar.limiter import CalendarLimiter
from connectors.calendar.settings import CalendarSettings


def sessions_of(runtime: Runtime) -> SessionFactory:
    if runtime.session is None:
        raise PermanentError("Google Calendar actions need the database (connections, links)",
                             code="no_database")
    return runtime.session


class CalendarClients:
    def __init__(self, settings: CalendarSettings, runtime: Runtime) -> None:
        self.settings, self.runtime = settings, runtime
        self._local = threading.local()
        self._limiter: CalendarLimiter | None = None
        self._limiter_lock = threading.Lock()

    def api(self, calendar_id: str) -> CalendarApi:
        """The client of the account acting on ``calendar_id`` (``PermanentError`` if none may)."""
        sessions = sessions_of(self.runtime)
        box = self.runtime.secrets() if self.runtime.secrets is not None else None
        with sessions() as session:
            grant = load_grant(session, calendar_id, box)
        cache: dict[tuple[str, ...], CalendarApi] = self._local.__dict__.setdefault("apis", {})
        api = cache.get(grant.cache_key)
        if api is None:
            credentials = build_credentials(self.settings, grant)
            refresh(self.settings, sessions, grant, credentials)
            api = CalendarApi(self.settings, credentials,
                              on_refresh_failed=partial(refresh_failed, sessions, grant),
                              on_refreshed=partial(record_expiry, sessions, grant))
            for key in [key for key in cache if key[0] == grant.connection_id]:
                del cache[key]  # the connection's previous grant
            cache[grant.cache_key] = api
        return api

    def acquire(self, calendar_id: str) -> None:
        """One request's slot in the calendar's rate limit."""
        self.limiter.acquire(calendar_id)

    @property
    def limiter(self) -> CalendarLimiter:
        with self._limiter_lock:
            if self._limiter is None:
                self._limiter = CalendarLimiter(self.settings.requests_per_second, self.runtime.redis_url,
                                                self.runtime.namespace)
            return self._limiter
