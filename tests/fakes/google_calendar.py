"""A local HTTP server that speaks Google Calendar v3 and Google's OAuth2 token endpoint.

The real ``googleapiclient`` / ``google-auth`` talk to it: JSON bodies under
``/calendar/v3/...`` (the paths of the bundled discovery document), bearer
tokens checked on every API call, Google's error body
``{"error": {"code", "message", "errors": [{"reason", "domain", "message"}], "status"}}``.

Semantics follow Google's documentation where tests depend on them:

- ``events.insert`` accepts a client-chosen ``id`` (base32hex, 5–1024 chars, else 400
  ``invalid``); an id already used in the calendar answers 409 ``duplicate``.
- ``events.delete`` sets the event's status to ``cancelled``; a second delete answers 410
  ``deleted``; ``events.get`` still returns the cancelled event (Google: "the get method
  always returns them"); ``events.list`` returns cancelled events only with ``showDeleted``
  or on incremental sync (``syncToken``); ``purge()`` drops one for good (then 404), as
  Google eventually does.
- ``events.list`` pages with ``pageToken``/``nextPageToken``; the last page carries
  ``nextSyncToken``; a ``syncToken`` lists only the events changed since it and cannot be
  combined with ``timeMin``/``timeMax``/``updatedMin``/``q``/``orderBy``/``iCalUID``/
  ``privateExtendedProperty`` (400). ``expire_sync_tokens()`` makes the next use of an
  older token answer 410 ``fullSyncRequired``.
- ``events.watch`` records a channel; ``push(calendar_id)`` POSTs a notification to each
  channel of the calendar with the ``X-Goog-*`` headers Google sends (Google also sends a
  ``sync`` message right after ``watch``: call ``push(calendar_id, "sync")`` for it, so tests
  stay deterministic).
- ``/token``: ``refresh_token`` (registered with ``grant()``; ``revoke()`` makes it answer 400
  ``invalid_grant``), ``authorization_code`` (codes from ``issue_code()``) and the
  service-account JWT bearer grant (the assertion is decoded, not verified).

Every change is appended to a per-calendar change log; an event remembers the position
of its last change, so incremental and full listings walk the log once (no O(n²) with
10,000 events in pages of 250).
"""

from __future__ import annotations

import base64
import copy
import json
import re
import secrets
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.serving import serving

CLIENT_ID = "despacho-test.apps.googleusercontent.com"
CLIENT_SECRET = "test-client-secret"
DEFAULT_TIME_ZONE = "America/Sao_Paulo"
_EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
_PREFIX = "/calendar/v3"
_EVENTS = re.compile(r"^/calendar/v3/calendars/(?P<cal>[^/]+)/events(?:/(?P<event>[^/]+))?$")
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           409: "ALREADY_EXISTS", 410: "FAILED_PRECONDITION", 412: "FAILED_PRECONDITION",
           429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
_DOMAIN = {"rateLimitExceeded": "usageLimits", "userRateLimitExceeded": "usageLimits",
           "quotaExceeded": "usageLimits", "fullSyncRequired": "calendar", "authError": "global"}
_SYNC_INCOMPATIBLE = ("timeMin", "timeMax", "updatedMin", "q", "orderBy", "iCalUID",
                      "privateExtendedProperty", "sharedExtendedProperty")
_MAX_BODY = 1_000_000


class ApiError(Exception):
    """An error answer in Google's shape."""

    def __init__(self, status: int, reason: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message
        self.headers = headers or {}

    def body(self) -> bytes:
        error = {"domain": _DOMAIN.get(self.reason, "global"), "reason": self.reason, "message": self.message}
        return json.dumps({"error": {"code": self.status, "message": self.message, "errors": [error],
                                     "status": _STATUS.get(self.status, "UNKNOWN")}}).encode()


@dataclass
class Stored:
    body: dict[str, Any]
    position: int  # index in the calendar's change log of this event's last change


@dataclass
class Calendar:
    id: str
    time_zone: str = DEFAULT_TIME_ZONE
    events: dict[str, Stored] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)  # event id per change, in order
    generation: int = 0  # bumped by expire_sync_tokens()


@dataclass
class Channel:
    id: str
    resource_id: str
    calendar_id: str
    address: str
    token: str | None
    expiration_ms: int
    message_number: int = 0


@dataclass
class Grant:
    account: str
    revoked: bool = False


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(value: Any) -> datetime:
    """An RFC 3339 time (``Z`` or offset); 400 when it is not one."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ApiError(400, "invalid", f"Invalid value for time: {value!r}") from exc
    if moment.tzinfo is None:
        raise ApiError(400, "invalid", f"Time without an offset: {value!r}")
    return moment


def event_time(when: Any, calendar: Calendar) -> datetime:
    """``start``/``end`` of an event: ``dateTime`` (with offset, or with ``timeZone``) or ``date``."""
    from zoneinfo import ZoneInfo

    if not isinstance(when, dict):
        raise ApiError(400, "required", "Missing start or end time.")
    if "dateTime" in when:
        moment = datetime.fromisoformat(str(when["dateTime"]).replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(when.get("timeZone") or calendar.time_zone))
        return moment
    if "date" in when:
        day = datetime.fromisoformat(str(when["date"]))
        return day.replace(tzinfo=ZoneInfo(when.get("timeZone") or calendar.time_zone))
    raise ApiError(400, "required", "Missing start or end time.")


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """Patch semantics: objects merge, arrays and scalars replace, ``null`` clears."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _eid(event_id: str, calendar_id: str) -> str:
    return base64.urlsafe_b64encode(f"{event_id} {calendar_id}".encode()).decode().rstrip("=")


def _encode(token: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(token, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(token: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid", f"Invalid {what} value.") from exc
    if not isinstance(value, dict):
        raise ApiError(400, "invalid", f"Invalid {what} value.")
    return value


@dataclass
class FakeGoogleCalendar:
    """State and test helpers; the HTTP handler below only translates requests into calls here."""

    url: str = ""
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    access_token_ttl: int = 3599
    calendars: dict[str, Calendar] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)  # refresh token -> account
    codes: dict[str, str] = field(default_factory=dict)  # authorization code -> account
    access_tokens: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    scripted: deque[ApiError] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)  # method, path, query, body, account
    token_requests: list[dict[str, str]] = field(default_factory=list)
    pushes: list[dict[str, Any]] = field(default_factory=list)
    access_roles: dict[tuple[str, str], str] = field(default_factory=dict)  # (account, calendar) -> role
    _last_updated: datetime = field(default_factory=lambda: datetime(2000, 1, 1, tzinfo=UTC))
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # -- configuration helpers ------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """What ``connectors.calendar.api_url`` should say (the ``www.googleapis.com/`` of the fake)."""
        return self.url + "/"

    @property
    def token_uri(self) -> str:
        return self.url + "/token"

    def add_calendar(self, calendar_id: str, time_zone: str = DEFAULT_TIME_ZONE) -> Calendar:
        with self._lock:
            return self.calendars.setdefault(calendar_id, Calendar(calendar_id, time_zone))

    def grant(self, account: str, refresh_token: str | None = None) -> str:
        """Register a refresh token for ``account`` (as Google does after consent); returns it."""
        token = refresh_token or "1//" + secrets.token_urlsafe(24)
        with self._lock:
            self.grants[token] = Grant(account)
        return token

    def revoke(self, refresh_token: str) -> None:
        """The user removed despacho's access: the token now answers ``invalid_grant``."""
        with self._lock:
            self.grants[refresh_token].revoked = True

    def issue_code(self, account: str) -> str:
        """An authorization code the connect flow exchanges for a refresh token."""
        code = "4/" + secrets.token_urlsafe(16)
        with self._lock:
            self.codes[code] = account
        return code

    def expire_access_tokens(self) -> None:
        with self._lock:
            self.access_tokens.clear()

    def expire_sync_tokens(self, calendar_id: str | None = None) -> None:
        """The next use of any earlier sync token answers 410 ``fullSyncRequired``."""
        with self._lock:
            for calendar in self.calendars.values():
                if calendar_id is None or calendar.id == calendar_id:
                    calendar.generation += 1

    def fail_next(self, status: int, reason: str, retry_after: int | None = None,
                  message: str | None = None) -> None:
        """The next API call (not ``/token``) answers this error in Google's shape."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        default = {"rateLimitExceeded": "Rate Limit Exceeded",
                   "userRateLimitExceeded": "User Rate Limit Exceeded"}.get(reason, f"scripted {reason}")
        with self._lock:
            self.scripted.append(ApiError(status, reason, message or default, headers))

    # -- direct access for tests ----------------------------------------------------------

    def events(self, calendar_id: str) -> list[dict[str, Any]]:
        """Every event of the calendar, cancelled ones included, as Google would return them."""
        with self._lock:
            calendar = self.calendars.get(calendar_id)
            return [copy.deepcopy(stored.body) for stored in calendar.events.values()] if calendar else []

    def event(self, calendar_id: str, event_id: str) -> dict[str, Any] | None:
        with self._lock:
            stored = self.calendars[calendar_id].events.get(event_id)
            return copy.deepcopy(stored.body) if stored else None

    def put_event(self, calendar_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """As if a user edited in Google: creates or merges, bumps ``updated``, ``etag``, ``sequence``."""
        with self._lock:
            calendar = self.add_calendar(calendar_id)
            existing = calendar.events.get(body["id"]) if "id" in body else None
            if existing is None:
                return self.insert(calendar_id, body)
            merged = copy.deepcopy(existing.body)
            _merge(merged, body)
            merged["sequence"] = int(merged.get("sequence", 0)) + 1
            return self._store(calendar, merged)

    def purge(self, calendar_id: str, event_id: str) -> None:
        """Google dropped a cancelled event for good ("they will eventually disappear"): 404 from now on."""
        with self._lock:
            del self.calendars[calendar_id].events[event_id]

    # -- the API, as the handler calls it ---------------------------------------------------

    def _calendar(self, calendar_id: str) -> Calendar:
        calendar = self.calendars.get(calendar_id)
        if calendar is None:
            raise ApiError(404, "notFound", "Not Found")
        return calendar

    def _stored(self, calendar_id: str, event_id: str) -> Stored:
        stored = self._calendar(calendar_id).events.get(event_id)
        if stored is None:
            raise ApiError(404, "notFound", "Not Found")
        return stored

    def _tick(self) -> datetime:
        """``updated`` times strictly increase: a test can tell two writes apart by them."""
        now = datetime.now(UTC)
        self._last_updated = max(now, self._last_updated + timedelta(milliseconds=1))
        return self._last_updated

    def _store(self, calendar: Calendar, body: dict[str, Any]) -> dict[str, Any]:
        start, end = event_time(body.get("start"), calendar), event_time(body.get("end"), calendar)
        if end < start:
            raise ApiError(400, "timeRangeEmpty", "The specified time range is empty.")
        updated = self._tick()
        body["updated"] = rfc3339(updated)
        body["etag"] = f'"{int(updated.timestamp() * 1000)}{len(calendar.log):06d}"'
        calendar.log.append(body["id"])
        calendar.events[body["id"]] = Stored(body, len(calendar.log) - 1)
        return copy.deepcopy(body)

    def insert(self, calendar_id: str, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            calendar = self._calendar(calendar_id)
            event_id = request.get("id") or secrets.token_hex(13)
            if not isinstance(event_id, str) or not _EVENT_ID.match(event_id):
                raise ApiError(400, "invalid", "Invalid resource id value.")
            if event_id in calendar.events:
                raise ApiError(409, "duplicate", "The requested identifier already exists.")
            now = rfc3339(self._tick())
            body = copy.deepcopy(request)
            body.update({
                "kind": "calendar#event", "id": event_id, "status": request.get("status", "confirmed"),
                "htmlLink": "https://www.google.com/calendar/event?eid=" + _eid(event_id, calendar_id),
                "created": now, "iCalUID": f"{event_id}@google.com", "sequence": 0,
                "creator": {"email": calendar_id, "self": True},
                "organizer": {"email": calendar_id, "self": True},
            })
            body.setdefault("reminders", {"useDefault": True})
            body.setdefault("eventType", "default")
            return self._store(calendar, body)

    def get(self, calendar_id: str, event_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._stored(calendar_id, event_id).body)

    def _check_etag(self, stored: Stored, if_match: str | None) -> None:
        if if_match and if_match != "*" and if_match != stored.body["etag"]:
            raise ApiError(412, "conditionNotMet", "Precondition Failed")

    def patch(self, calendar_id: str, event_id: str, request: dict[str, Any],
              if_match: str | None = None) -> dict[str, Any]:
        with self._lock:
            stored = self._stored(calendar_id, event_id)
            self._check_etag(stored, if_match)
            body = copy.deepcopy(stored.body)
            _merge(body, {key: value for key, value in request.items() if key not in _READ_ONLY})
            if any(key in request for key in ("start", "end", "location", "summary")):
                body["sequence"] = int(body.get("sequence", 0)) + 1
            return self._store(self._calendar(calendar_id), body)

    def update(self, calendar_id: str, event_id: str, request: dict[str, Any],
               if_match: str | None = None) -> dict[str, Any]:
        with self._lock:
            stored = self._stored(calendar_id, event_id)
            self._check_etag(stored, if_match)
            kept = {key: stored.body[key] for key in _READ_ONLY if key in stored.body}
            body = {**copy.deepcopy({k: v for k, v in request.items() if k not in _READ_ONLY}), **kept}
            body.setdefault("status", "confirmed")
            body["sequence"] = int(stored.body.get("sequence", 0)) + 1
            return self._store(self._calendar(calendar_id), body)

    def delete(self, calendar_id: str, event_id: str) -> None:
        with self._lock:
            stored = self._stored(calendar_id, event_id)
            if stored.body.get("status") == "cancelled":
                raise ApiError(410, "deleted", "Resource has been deleted")
            body = copy.deepcopy(stored.body)
            body["status"] = "cancelled"
            self._store(self._calendar(calendar_id), body)

    def list(self, calendar_id: str, query: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            calendar = self._calendar(calendar_id)
            cursor = self._cursor(calendar, query)
            limit = min(max(int(query.get("maxResults", "250")), 1), 2500)
            items, position = self._walk(calendar, cursor, query, limit)
            answer: dict[str, Any] = {
                "kind": "calendar#events", "etag": f'"{len(calendar.log)}"', "summary": calendar.id,
                "updated": rfc3339(self._last_updated), "timeZone": calendar.time_zone,
                "accessRole": "owner", "defaultReminders": [], "items": items,
            }
            if position < cursor["e"]:
                answer["nextPageToken"] = _encode({**cursor, "p": position})
            else:
                answer["nextSyncToken"] = _encode({"c": calendar.id, "p": cursor["e"],
                                                   "g": calendar.generation})
            return answer

    def _cursor(self, calendar: Calendar, query: dict[str, str]) -> dict[str, Any]:
        """Where the listing starts and ends in the change log: a page token, a sync token, or all."""
        if "syncToken" in query:
            clash = [name for name in _SYNC_INCOMPATIBLE if name in query]
            if clash:
                raise ApiError(400, "invalid", f"syncToken cannot be combined with {', '.join(clash)}")
        if "pageToken" in query:
            cursor = _decode(query["pageToken"], "pageToken")
            if cursor.get("c") != calendar.id or not isinstance(cursor.get("p"), int):
                raise ApiError(400, "invalid", "Invalid pageToken value.")
            return cursor
        if "syncToken" in query:
            token = _decode(query["syncToken"], "syncToken")
            if token.get("c") != calendar.id or not isinstance(token.get("p"), int):
                raise ApiError(400, "invalid", "Invalid syncToken value.")
            if token.get("g") != calendar.generation:
                raise ApiError(410, "fullSyncRequired",
                               "Sync token is no longer valid, a full sync is required.")
            return {"c": calendar.id, "p": token["p"], "e": len(calendar.log), "s": True}
        return {"c": calendar.id, "p": 0, "e": len(calendar.log), "s": False}

    def _walk(self, calendar: Calendar, cursor: dict[str, Any], query: dict[str, str],
              limit: int) -> tuple[list[dict[str, Any]], int]:
        keep = _filter(calendar, query, incremental=bool(cursor.get("s")))
        items: list[dict[str, Any]] = []
        position, end = int(cursor["p"]), int(cursor["e"])
        while position < end and len(items) < limit:
            stored = calendar.events.get(calendar.log[position])
            # only an event's last change lists it: the earlier entries are history (or purged)
            if stored is not None and stored.position == position and keep(stored.body):
                items.append(copy.deepcopy(stored.body))
            position += 1
        return items, position

    def free_busy(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            start, end = parse_time(request.get("timeMin")), parse_time(request.get("timeMax"))
            answer: dict[str, Any] = {}
            for item in request.get("items") or []:
                calendar = self.calendars.get(item.get("id"))
                if calendar is None:
                    answer[item.get("id")] = {"errors": [{"domain": "global", "reason": "notFound"}],
                                              "busy": []}
                    continue
                answer[calendar.id] = {"busy": [{"start": rfc3339(a), "end": rfc3339(b)}
                                                for a, b in _busy(calendar, start, end)]}
            return {"kind": "calendar#freeBusy", "timeMin": rfc3339(start), "timeMax": rfc3339(end),
                    "calendars": answer}

    def watch(self, calendar_id: str, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._calendar(calendar_id)
            if request.get("type") not in ("web_hook", "webhook") or not request.get("address"):
                raise ApiError(400, "invalid", "Channel type and address are required.")
            if not request.get("id"):
                raise ApiError(400, "required", "Channel id is required.")
            if request["id"] in self.channels:
                raise ApiError(400, "channelIdNotUnique", "Channel id not unique.")
            ttl = int((request.get("params") or {}).get("ttl", 604800))
            expiration = datetime.now(UTC) + timedelta(seconds=min(ttl, 2_592_000))
            channel = Channel(request["id"], secrets.token_urlsafe(20), calendar_id, request["address"],
                              request.get("token"), int(expiration.timestamp() * 1000))
            self.channels[channel.id] = channel
            return {"kind": "api#channel", "id": channel.id, "resourceId": channel.resource_id,
                    "resourceUri": f"{self.url}{_PREFIX}/calendars/{calendar_id}/events?alt=json",
                    "token": channel.token, "expiration": str(channel.expiration_ms)}

    def stop(self, request: dict[str, Any]) -> None:
        with self._lock:
            channel = self.channels.get(request.get("id", ""))
            if channel is None or channel.resource_id != request.get("resourceId"):
                raise ApiError(404, "notFound", f"Channel '{request.get('id')}' not found for project")
            del self.channels[channel.id]

    def push(self, calendar_id: str, state: str = "exists") -> list[int]:
        """POST a notification to every channel watching the calendar; returns the HTTP statuses."""
        with self._lock:
            targets = [channel for channel in self.channels.values() if channel.calendar_id == calendar_id]
            for channel in targets:
                channel.message_number += 1
            messages = [(channel, self._push_headers(channel, state)) for channel in targets]
        return [self._send(channel, headers) for channel, headers in messages]

    def _push_headers(self, channel: Channel, state: str) -> dict[str, str]:
        expiration = datetime.fromtimestamp(channel.expiration_ms / 1000, UTC)
        headers = {
            "X-Goog-Channel-ID": channel.id, "X-Goog-Resource-ID": channel.resource_id,
            "X-Goog-Resource-URI": f"{self.url}{_PREFIX}/calendars/{channel.calendar_id}/events?alt=json",
            "X-Goog-Resource-State": state, "X-Goog-Message-Number": str(channel.message_number),
            "X-Goog-Channel-Expiration": format_datetime(expiration, usegmt=True),
        }
        if channel.token is not None:
            headers["X-Goog-Channel-Token"] = channel.token
        return headers

    def _send(self, channel: Channel, headers: dict[str, str]) -> int:
        import httpx  # keeps the headers' case as Google writes them (urllib capitalizes)

        status = httpx.post(channel.address, content=b"", headers=headers, timeout=10).status_code
        self.pushes.append({"address": channel.address, "headers": headers, "status": status})
        return status

    # -- calendars --------------------------------------------------------------------------

    def calendar_resource(self, calendar_id: str) -> dict[str, Any]:
        """``calendars.get``; ``primary`` is the signed-in account's own calendar (its id is the address)."""
        with self._lock:
            calendar = self.add_calendar(calendar_id) if "@" in calendar_id else self._calendar(calendar_id)
            return {"kind": "calendar#calendar", "id": calendar.id, "summary": calendar.id,
                    "timeZone": calendar.time_zone, "etag": '"cal"'}

    def calendar_list(self, account: str, query: dict[str, str]) -> dict[str, Any]:
        """``calendarList.list``: the account's own calendar (owner) and every other one (writer),
        in pages of ``maxResults``; ``minAccessRole`` is honoured."""
        with self._lock:
            self.add_calendar(account)
            entries = [{"kind": "calendar#calendarListEntry", "id": calendar.id, "summary": calendar.id,
                        "timeZone": calendar.time_zone, "primary": calendar.id == account,
                        "accessRole": self.access_roles.get((account, calendar.id),
                                                            "owner" if calendar.id == account else "writer")}
                       for calendar in self.calendars.values()]
        ranks: list[str] = ["freeBusyReader", "reader", "writer", "owner"]
        minimum = query.get("minAccessRole")
        if minimum:
            entries = [entry for entry in entries
                       if ranks.index(str(entry["accessRole"])) >= ranks.index(minimum)]
        start = int(query.get("pageToken") or 0)
        size = int(query.get("maxResults") or 100)
        page: dict[str, Any] = {"kind": "calendar#calendarList", "items": entries[start:start + size]}
        if start + size < len(entries):
            page["nextPageToken"] = str(start + size)
        return page

    # -- OAuth2 ---------------------------------------------------------------------------

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.token_requests.append(form)
            grant_type = form.get("grant_type", "")
            if grant_type == "urn:ietf:params:oauth:grant-type:jwt-bearer":
                return self._jwt_grant(form.get("assertion", ""))
            if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
                return 401, _oauth_error("invalid_client", "The OAuth client was not found.")
            if grant_type == "refresh_token":
                grant = self.grants.get(form.get("refresh_token", ""))
                if grant is None or grant.revoked:
                    return 400, _oauth_error("invalid_grant", "Token has been expired or revoked.")
                return 200, self._access(grant.account)
            if grant_type == "authorization_code":
                account = self.codes.pop(form.get("code", ""), None)
                if account is None:
                    return 400, _oauth_error("invalid_grant", "Malformed auth code.")
                return 200, {**self._access(account), "refresh_token": self.grant(account)}
            return 400, _oauth_error("unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def _jwt_grant(self, assertion: str) -> tuple[int, dict[str, Any]]:
        try:
            claims = json.loads(base64.urlsafe_b64decode(assertion.split(".")[1] + "=="))
        except (IndexError, ValueError):
            return 400, _oauth_error("invalid_grant", "Invalid JWT.")
        account = claims.get("sub") or claims.get("iss", "")
        revoked = any(grant.revoked and grant.account == account for grant in self.grants.values())
        if revoked:
            return 400, _oauth_error("invalid_grant", "Not a valid email or user ID.")
        return 200, {key: value for key, value in self._access(account).items() if key != "scope"}

    def _access(self, account: str) -> dict[str, Any]:
        token = "ya29." + secrets.token_urlsafe(24)
        self.access_tokens[token] = (account, datetime.now(UTC) + timedelta(seconds=self.access_token_ttl))
        return {"access_token": token, "expires_in": self.access_token_ttl, "token_type": "Bearer",
                "scope": "https://www.googleapis.com/auth/calendar"}

    def account_for(self, authorization: str | None) -> str:
        with self._lock:
            token = (authorization or "").removeprefix("Bearer ").strip()
            account = self.access_tokens.get(token)
            if account is None or account[1] < datetime.now(UTC):
                raise ApiError(401, "authError", "Invalid Credentials")
            return account[0]


def _oauth_error(error: str, description: str) -> dict[str, str]:
    return {"error": error, "error_description": description}


_READ_ONLY = ("id", "kind", "created", "creator", "organizer", "iCalUID", "htmlLink", "etag", "updated")


def _filter(calendar: Calendar, query: dict[str, str], *, incremental: bool) -> Any:
    """The listing's predicate: cancelled events, time bounds, ``updatedMin``, private property."""
    show_deleted = incremental or query.get("showDeleted") == "true"
    time_min = parse_time(query["timeMin"]) if "timeMin" in query else None
    time_max = parse_time(query["timeMax"]) if "timeMax" in query else None
    updated_min = parse_time(query["updatedMin"]) if "updatedMin" in query else None
    wanted = query.get("privateExtendedProperty", "").partition("=")

    def keep(body: dict[str, Any]) -> bool:
        if body.get("status") == "cancelled" and not show_deleted:
            return False
        if time_min is not None and event_time(body["end"], calendar) <= time_min:
            return False
        if time_max is not None and event_time(body["start"], calendar) >= time_max:
            return False
        if updated_min is not None and parse_time(body["updated"]) < updated_min:
            return False
        if wanted[0]:
            private = (body.get("extendedProperties") or {}).get("private") or {}
            return bool(private.get(wanted[0]) == wanted[2])
        return True

    return keep


def _busy(calendar: Calendar, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Merged busy intervals of the calendar's opaque, not-cancelled events inside [start, end)."""
    spans = []
    for stored in calendar.events.values():
        body = stored.body
        if body.get("status") == "cancelled" or body.get("transparency") == "transparent":
            continue
        a, b = event_time(body["start"], calendar), event_time(body["end"], calendar)
        if a < end and b > start:
            spans.append((max(a, start), min(b, end)))
    merged: list[tuple[datetime, datetime]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _handler(fake: FakeGoogleCalendar) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body leave in two writes: with Nagle on, a kept-alive client's delayed ACK
        # held the body back ~40 ms (every mid-sized page took 40 ms, not 1)
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            if body:
                self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            if length > _MAX_BODY:
                raise ApiError(413, "requestTooLarge", "Request too large")
            return self.rfile.read(length)

        def _handle(self, method: str) -> None:
            url = urlsplit(self.path)
            query = {key: values[-1] for key, values in parse_qs(url.query, keep_blank_values=True).items()}
            try:
                raw = self._body()
                if url.path == "/token" and method == "POST":
                    self._token(raw)
                    return
                account = fake.account_for(self.headers.get("Authorization"))
                body = json.loads(raw) if raw else {}
                with fake._lock:
                    fake.requests.append({"method": method, "path": url.path, "query": query,
                                          "body": body, "account": account})
                    if fake.scripted:
                        raise fake.scripted.popleft()
                status, answer = _route(fake, method, unquote_path(url.path), query, body,
                                        self.headers.get("If-Match"), account)
                self._answer(status, json.dumps(answer).encode() if answer is not None else b"")
            except ApiError as error:
                self._answer(error.status, error.body(), error.headers)
            except json.JSONDecodeError:
                self._answer(400, ApiError(400, "parseError", "Parse Error").body())

        def _token(self, raw: bytes) -> None:
            form = {key: values[-1] for key, values in parse_qs(raw.decode(), keep_blank_values=True).items()}
            basic = self.headers.get("Authorization", "")
            if basic.startswith("Basic "):  # client_secret_basic (RFC 6749 2.3.1): requests-oauthlib sends it
                client_id, _, client_secret = base64.b64decode(basic[6:]).decode().partition(":")
                form.setdefault("client_id", unquote(client_id))
                form.setdefault("client_secret", unquote(client_secret))
            status, answer = fake.token(form)
            self._answer(status, json.dumps(answer).encode())

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PUT(self) -> None:
            self._handle("PUT")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

        def do_DELETE(self) -> None:
            self._handle("DELETE")

    return Handler


def unquote_path(path: str) -> list[str]:
    """The path's segments, each percent-decoded (calendar ids are e-mail addresses: ``%40``)."""
    return [unquote(part) for part in path.split("/")]


def _route(fake: FakeGoogleCalendar, method: str, parts: list[str], query: dict[str, str],
           body: dict[str, Any], if_match: str | None, account: str) -> tuple[int, Any]:
    # parts: ['', 'calendar', 'v3', ...]
    if parts[:3] != ["", "calendar", "v3"]:
        raise ApiError(404, "notFound", "Not Found")
    rest = parts[3:]
    if rest == ["users", "me", "calendarList"] and method == "GET":
        return 200, fake.calendar_list(account, query)
    if len(rest) == 2 and rest[0] == "calendars" and method == "GET":
        return 200, fake.calendar_resource(account if rest[1] == "primary" else rest[1])
    if rest == ["freeBusy"] and method == "POST":
        return 200, fake.free_busy(body)
    if rest == ["channels", "stop"] and method == "POST":
        fake.stop(body)
        return 204, None
    if len(rest) >= 3 and rest[0] == "calendars" and rest[2] == "events":
        return _route_events(fake, method, rest[1], rest[3:], query, body, if_match)
    raise ApiError(404, "notFound", "Not Found")


def _route_events(fake: FakeGoogleCalendar, method: str, calendar_id: str, rest: list[str],
                  query: dict[str, str], body: dict[str, Any], if_match: str | None) -> tuple[int, Any]:
    if not rest:
        if method == "GET":
            return 200, fake.list(calendar_id, query)
        if method == "POST":
            return 200, fake.insert(calendar_id, body)
    elif rest == ["watch"] and method == "POST":
        return 200, fake.watch(calendar_id, body)
    elif len(rest) == 1:
        event_id = rest[0]
        if method == "GET":
            return 200, fake.get(calendar_id, event_id)
        if method == "PATCH":
            return 200, fake.patch(calendar_id, event_id, body, if_match)
        if method == "PUT":
            return 200, fake.update(calendar_id, event_id, body, if_match)
        if method == "DELETE":
            fake.delete(calendar_id, event_id)
            return 204, None
    raise ApiError(404, "notFound", "Not Found")


@contextmanager
def google_calendar_server() -> Iterator[FakeGoogleCalendar]:
    fake = FakeGoogleCalendar()
    with serving(_handler(fake)) as url:
        fake.url = url
        yield fake


@dataclass
class PushReceiver:
    """Collects the notifications POSTed to it (a stand-in for despacho's webhook)."""

    url: str = ""
    status: int = 200
    received: list[dict[str, str]] = field(default_factory=list)


@contextmanager
def push_receiver() -> Iterator[PushReceiver]:
    receiver = PushReceiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            receiver.received.append({name: value for name, value in self.headers.items()  # case as sent
                                      if name.lower().startswith("x-goog-")})
            self.send_response(receiver.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with serving(Handler) as url:
        receiver.url = f"{url}/webhooks/google/calendar"
        yield receiver


__all__ = ["CLIENT_ID", "CLIENT_SECRET", "FakeGoogleCalendar", "PushReceiver", "google_calendar_server",
           "push_receiver"]
