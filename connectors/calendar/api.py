"""The Calendar v3 wire: the real ``googleapiclient`` built once, plain methods returning dicts.

Every failure leaves here as despacho's error kinds (``classify``): retries belong to
the step runner, so the client is told never to retry on its own (``num_retries=0``;
``AuthorizedHttp`` still refreshes an expired access token once, which is not a retry
of the effect). ``settings.api_url`` is Google's root (``https://www.googleapis.com/``);
the service path ``calendar/v3/`` is appended here because ``client_options.api_endpoint``
replaces the whole base URL of the discovery document.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urljoin

from connectors.base import PermanentError, TransientError
from connectors.calendar.settings import CalendarSettings
from errors import ConnectorError, SyncTokenExpired

if TYPE_CHECKING:
    from google.auth.credentials import Credentials
    from googleapiclient.errors import HttpError

SERVICE_PATH = "calendar/v3/"
MAX_PAGE = 2500  # Google's cap on maxResults
# transient reasons Google puts in a 403 (the others, e.g. forbidden, are permanent)
RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"})
# what the caller does when a refresh is refused (invalid_grant): mark the connection broken
RefreshFailed = Callable[[Exception], ConnectorError]
# told the new expiry (naive UTC, as google-auth keeps it) after the client refreshed the token
Refreshed = Callable[[datetime], None]


def api_endpoint(settings: CalendarSettings) -> str:
    root = settings.api_url if settings.api_url.endswith("/") else settings.api_url + "/"
    return urljoin(root, SERVICE_PATH)


class CalendarApi:
    """One authorised client for one Google account; methods take the calendar id."""

    def __init__(self, settings: CalendarSettings, credentials: Credentials,
                 on_refresh_failed: RefreshFailed | None = None,
                 on_refreshed: Refreshed | None = None) -> None:
        import google_auth_httplib2
        import httplib2
        from googleapiclient.discovery import build

        self.credentials = credentials
        self._on_refresh_failed = on_refresh_failed
        self._on_refreshed = on_refreshed
        http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=settings.timeout))
        self._service = build("calendar", "v3", http=http, static_discovery=True, cache_discovery=False,
                              client_options={"api_endpoint": api_endpoint(settings)})
        # a collection is rebuilt from the discovery document at each call: a fifth of an incremental
        # sync went there. Built once; an instance is used by one thread at a time (CalendarClients).
        self._events = self._service.events()

    # -- events ---------------------------------------------------------------------------

    def insert_event(self, calendar_id: str, body: dict[str, Any], *, notify: bool = False) -> dict[str, Any]:
        """``notify``: Google e-mails the attendees (``sendUpdates=all``)."""
        request = self._events.insert(calendarId=calendar_id, body=body,
                                                sendUpdates=_updates(notify))
        return self._run(request, calendar_id, on_event=True)

    def get_event(self, calendar_id: str, event_id: str) -> dict[str, Any]:
        return self._run(self._events.get(calendarId=calendar_id, eventId=event_id),
                         calendar_id, on_event=True)

    def patch_event(self, calendar_id: str, event_id: str, body: dict[str, Any], *,
                    etag: str | None = None, notify: bool = False) -> dict[str, Any]:
        """``etag``: only if the event is still that version (412 ``conditionNotMet`` otherwise)."""
        request = self._events.patch(calendarId=calendar_id, eventId=event_id, body=body,
                                               sendUpdates=_updates(notify))
        if etag:
            request.headers["If-Match"] = etag
        return self._run(request, calendar_id, on_event=True)

    def update_event(self, calendar_id: str, event_id: str, body: dict[str, Any]) -> dict[str, Any]:
        request = self._events.update(calendarId=calendar_id, eventId=event_id, body=body,
                                                sendUpdates=_updates(False))
        return self._run(request, calendar_id, on_event=True)

    def delete_event(self, calendar_id: str, event_id: str, *, notify: bool = False) -> None:
        request = self._events.delete(calendarId=calendar_id, eventId=event_id,
                                                sendUpdates=_updates(notify))
        self._run(request, calendar_id, on_event=True)

    def list_page(self, calendar_id: str, *, sync_token: str | None = None, page_token: str | None = None,
                  max_results: int = 250, show_deleted: bool = False) -> dict[str, Any]:
        """One page of ``events.list``: ``items`` and ``nextPageToken`` or ``nextSyncToken``.

        Never time bounds with a sync token (Google answers 400); a sync token Google no
        longer accepts raises ``SyncTokenExpired`` so the caller lists everything again.
        """
        query: dict[str, Any] = {"calendarId": calendar_id, "maxResults": max(1, min(max_results, MAX_PAGE))}
        if sync_token:
            query["syncToken"] = sync_token
        elif show_deleted:
            query["showDeleted"] = True
        if page_token:
            query["pageToken"] = page_token
        return self._run(self._events.list(**query), calendar_id, sync_token=bool(sync_token))

    def events_between(self, calendar_id: str, start: datetime, end: datetime, *,
                       acquire: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
        """Every event overlapping [start, end) (recurrences expanded), page after page.

        ``acquire`` takes a rate-limit slot before each page. Time bounds, so never a sync token.
        """
        items: list[dict[str, Any]] = []
        page_token: str | None = None
        while True:
            if acquire is not None:
                acquire(calendar_id)
            query: dict[str, Any] = {"calendarId": calendar_id, "timeMin": start.isoformat(),
                                     "timeMax": end.isoformat(), "singleEvents": True, "maxResults": MAX_PAGE}
            if page_token:
                query["pageToken"] = page_token
            page = self._run(self._events.list(**query), calendar_id)
            items += page.get("items", [])
            page_token = page.get("nextPageToken")
            if not page_token:
                return items

    # -- free/busy and push channels ------------------------------------------------------

    def free_busy(self, calendar_ids: list[str], start: datetime,
                  end: datetime) -> dict[str, list[dict[str, str]]]:
        """Busy intervals per calendar; a calendar Google could not read raises ``PermanentError``."""
        body = {"timeMin": start.isoformat(), "timeMax": end.isoformat(),
                "items": [{"id": calendar_id} for calendar_id in calendar_ids]}
        answer = self._run(self._service.freebusy().query(body=body), ",".join(calendar_ids))
        busy: dict[str, list[dict[str, str]]] = {}
        for calendar_id in calendar_ids:
            entry = answer.get("calendars", {}).get(calendar_id, {})
            if entry.get("errors"):
                reason = entry["errors"][0].get("reason", "unknown")
                raise PermanentError(f"calendar '{calendar_id}': Google cannot read its free/busy ({reason})",
                                     code="not_found" if reason == "notFound" else "calendar_forbidden")
            busy[calendar_id] = list(entry.get("busy", []))
        return busy

    def watch(self, calendar_id: str, channel_id: str, address: str, token: str,
              ttl_seconds: int) -> dict[str, Any]:
        body = {"id": channel_id, "type": "web_hook", "address": address, "token": token,
                "params": {"ttl": str(int(ttl_seconds))}}
        return self._run(self._events.watch(calendarId=calendar_id, body=body), calendar_id)

    def stop_channel(self, channel_id: str, resource_id: str) -> None:
        body = {"id": channel_id, "resourceId": resource_id}
        self._run(self._service.channels().stop(body=body), f"channel {channel_id}")

    def calendar_reachable(self, calendar_id: str) -> bool:
        """Whether the account can list the calendar (one event at most): for ``check``."""
        try:
            self.list_page(calendar_id, max_results=1)
        except PermanentError:
            return False
        return True

    # -- the account -----------------------------------------------------------------------

    def primary_calendar_id(self) -> str:
        """The signed-in account's own calendar id, which is its e-mail address."""
        answer = self._run(self._service.calendars().get(calendarId="primary"), "primary")
        calendar_id = answer.get("id")
        if not isinstance(calendar_id, str) or not calendar_id:
            raise PermanentError("Google answered calendars.get(primary) without an id",
                                 code="calendar_reply")
        return calendar_id

    def writable_calendars(self, *, limit: int) -> list[str]:
        """Ids of the calendars the account may write events to, at most ``limit``, pages followed."""
        calendars: list[str] = []
        page_token: str | None = None
        while len(calendars) < limit:
            request = self._service.calendarList().list(
                minAccessRole="writer", maxResults=min(250, limit - len(calendars)), pageToken=page_token,
                showDeleted=False)
            answer = self._run(request, "calendarList")
            calendars.extend(str(item["id"]) for item in answer.get("items", []) if item.get("id"))
            page_token = answer.get("nextPageToken")
            if not page_token:
                break
        return calendars[:limit]

    # -- the one place requests run -------------------------------------------------------

    def _run(self, request: Any, target: str, *, on_event: bool = False,
             sync_token: bool = False) -> dict[str, Any]:
        import httplib2
        from google.auth.exceptions import RefreshError, TransportError
        from googleapiclient.errors import HttpError

        expiry = self.credentials.expiry
        try:
            answer = cast("dict[str, Any]", request.execute(num_retries=0))
        except HttpError as exc:
            raise classify(exc, target, on_event=on_event, sync_token=sync_token) from exc
        except RefreshError as exc:
            if self._on_refresh_failed is None:
                raise PermanentError(f"Google refused to refresh the token: {exc}",
                                     code="calendar_auth") from exc
            raise self._on_refresh_failed(exc) from exc
        except (TransportError, httplib2.HttpLib2Error, OSError) as exc:  # timeouts are OSError
            raise TransientError(f"calendar '{target}': cannot reach Google ({type(exc).__name__}: {exc})",
                                 retry_after=None) from exc
        if self._on_refreshed is not None and self.credentials.expiry not in (None, expiry):
            self._on_refreshed(self.credentials.expiry)
        return answer


def _updates(notify: bool) -> str:
    return "all" if notify else "none"


def error_reason(exc: HttpError) -> tuple[str, str]:
    """Google's first ``errors[].reason`` and the message, from the error body."""
    try:
        error = json.loads(exc.content.decode("utf-8", "replace")).get("error", {})
    except (ValueError, AttributeError):
        return "", str(exc.resp.reason or "")
    if not isinstance(error, dict):
        return "", str(error)[:200]
    reasons = error.get("errors") or [{}]
    first = reasons[0] if isinstance(reasons[0], dict) else {}
    return str(first.get("reason", "")), str(error.get("message", ""))[:500]


def retry_after(exc: HttpError) -> float | None:
    """``Retry-After`` in seconds (Google sends seconds; an HTTP date is ignored)."""
    value = exc.resp.get("retry-after") if exc.resp is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def classify(exc: HttpError, target: str = "", *, on_event: bool = False,
             sync_token: bool = False) -> TransientError | PermanentError:
    """Google's answer as despacho's error kind: retry later, or fail now with a code."""
    status = int(exc.resp.status)
    reason, message = error_reason(exc)
    where = f"calendar '{target}': " if target else ""
    text = f"{where}Google answered {status} {reason or ''}: {message}".rstrip(": ")
    if status == 429 or status >= 500 or (status == 403 and reason in RATE_REASONS):
        return TransientError(text, retry_after=retry_after(exc))
    if status == 410 and sync_token:
        return SyncTokenExpired(target)
    if status == 404:
        return PermanentError(text, code="not_found" if on_event else "calendar_not_found")
    if status == 410:
        return PermanentError(text, code="gone")
    if status == 409:
        return PermanentError(text, code="duplicate")
    if status == 412:
        return PermanentError(text, code="precondition_failed")
    if status == 401:
        return PermanentError(text, code="calendar_auth")
    if status == 403:
        return PermanentError(text, code="calendar_forbidden")
    return PermanentError(text, code="invalid_request" if status == 400 else f"http_{status}")


__all__ = ["CalendarApi", "api_endpoint", "classify"]
