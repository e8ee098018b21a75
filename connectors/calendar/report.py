"""``despacho check calendar``: each Google connection, whether it refreshes, which calendars it reaches.

Read-only towards despacho's records: a refused refresh is reported, not recorded (the
connection is marked broken by the next real call, which records ``calendar.auth_failed``).
The only effect on Google is one token refresh per connection and one ``events.list``
of at most one event per calendar.
"""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING, Any

from connectors.base import PermanentError, TransientError
from connectors.calendar.api import CalendarApi
from connectors.calendar.auth import Grant, SessionFactory, build_credentials
from connectors.calendar.settings import CalendarSettings

if TYPE_CHECKING:
    from store.models.calendar import CalendarConnection
    from store.secrets import SecretBox


def connection_report(settings: CalendarSettings, session_factory: SessionFactory, *,
                      box: SecretBox | None = None) -> list[dict[str, Any]]:
    """One dict per connection: account, kind, technician_id, status, broken_reason,
    token_expires_at (ISO, after the refresh), calendars [{calendar_id, reachable, error}], error."""
    from sqlmodel import select

    from store.models import Technician
    from store.models.calendar import CalendarConnection

    with session_factory() as session:
        rows = []
        for connection in session.exec(select(CalendarConnection).order_by(CalendarConnection.account)):
            owner = connection.technician_id
            technician = session.get(Technician, owner) if owner else None
            own = [technician.google_calendar_id] if technician is not None else []
            calendars = [c for c in dict.fromkeys(own + list(connection.calendars or [])) if c]
            rows.append((connection, calendars, grant_of(session, connection, box)))
    return [_report(settings, connection, calendars, grant) for connection, calendars, grant in rows]


def grant_of(session: Any, connection: CalendarConnection, box: SecretBox | None) -> Grant | str:
    """The grant to test, or why there is none."""
    from store.errors import StoreError
    from store.secrets import get_secret

    token = None
    if connection.kind == "oauth":
        if box is None or not connection.secret_name:
            return "no stored token"
        try:
            token = get_secret(session, box, connection.secret_name)
        except StoreError as exc:
            return str(exc)
    return Grant(connection.id, connection.technician_id, connection.kind, connection.account, token)


def _report(settings: CalendarSettings, connection: CalendarConnection, calendars: list[str],
            grant: Grant | str) -> dict[str, Any]:
    expires = connection.token_expires_at
    row: dict[str, Any] = {
        "connection_id": connection.id, "account": connection.account, "kind": connection.kind,
        "technician_id": connection.technician_id, "status": connection.status,
        "broken_reason": connection.broken_reason,
        "token_expires_at": expires.isoformat() if expires else None,
        "calendars": [{"calendar_id": c, "reachable": None, "error": None} for c in calendars], "error": None,
    }
    if connection.status == "broken":
        return row
    if isinstance(grant, str):
        row["error"] = grant
        return row
    try:
        api = _refreshed(settings, grant)
    except (PermanentError, TransientError) as exc:
        row["error"] = str(exc)
        return row
    expiry = api.credentials.expiry
    row["token_expires_at"] = expiry.replace(tzinfo=UTC).isoformat() if expiry else None
    for entry in row["calendars"]:
        try:
            api.list_page(entry["calendar_id"], max_results=1)
            entry["reachable"] = True
        except (PermanentError, TransientError) as exc:
            entry["reachable"], entry["error"] = False, str(exc)
    return row


def _refreshed(settings: CalendarSettings, grant: Grant) -> CalendarApi:
    import google_auth_httplib2
    import httplib2
    from google.auth.exceptions import RefreshError, TransportError

    credentials = build_credentials(settings, grant)
    try:
        request = google_auth_httplib2.Request(httplib2.Http(timeout=settings.timeout))
        credentials.refresh(request)  # type: ignore[no-untyped-call]
    except RefreshError as exc:
        raise PermanentError(f"Google refused the token refresh: {exc.args[0] if exc.args else exc}",
                             code="calendar_auth") from exc
    except (TransportError, httplib2.HttpLib2Error, OSError) as exc:
        raise TransientError(f"cannot reach Google's token endpoint: {exc}") from exc
    return CalendarApi(settings, credentials)
