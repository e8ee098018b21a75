"""Which Google account acts on a calendar, and its credentials.

A calendar belongs to a technician (``technicians.google_calendar_id``) or is listed in a
connection's ``calendars``; the technician's own ``CalendarConnection`` acts on it, else the
shared one (``technician_id`` NULL). A calendar that is neither is refused: event data must
not choose an arbitrary calendar for despacho to write to.

A refresh Google answers ``invalid_grant`` (the user revoked access, the token expired)
marks the connection ``broken``, records ``calendar.auth_failed`` once per breakage and
fails permanently; later calls fail at once, without asking Google again, until
``despacho calendar connect`` stores a new grant.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from connectors.base import PermanentError, TransientError
from connectors.calendar.settings import CalendarSettings
from errors import ConnectorError

if TYPE_CHECKING:
    from google.auth.credentials import Credentials
    from sqlmodel import Session

    from store.models.calendar import CalendarConnection
    from store.secrets import SecretBox

SCOPES = ["https://www.googleapis.com/auth/calendar"]
SessionFactory = Callable[[], AbstractContextManager["Session"]]


@dataclass(frozen=True)
class Grant:
    """A connection as credentials are built from it (read in one short transaction)."""

    connection_id: str
    technician_id: str | None
    kind: str
    account: str
    refresh_token: str | None  # oauth only; decrypted from the secrets table

    @property
    def cache_key(self) -> tuple[str, str, str, str]:
        """Changes when the connection is reconnected (new token) or re-pointed (account, kind)."""
        digest = hashlib.sha256((self.refresh_token or "").encode()).hexdigest()
        return (self.connection_id, self.kind, self.account, digest)


def reconnect_hint(technician_id: str | None) -> str:
    target = f" --technician {technician_id}" if technician_id else ""  # no technician: the shared account
    return f"run 'despacho calendar connect{target}'"


def find_connection(session: Session, calendar_id: str) -> CalendarConnection:
    """The connection acting on ``calendar_id``; ``PermanentError`` if it is unknown or unconnected."""
    from sqlmodel import col, select

    from store.models import Technician
    from store.models.calendar import CalendarConnection

    technician = session.exec(select(Technician).where(Technician.google_calendar_id == calendar_id,
                                                       col(Technician.deleted_at).is_(None))).first()
    connections = list(session.exec(select(CalendarConnection)))
    listed = [connection for connection in connections if calendar_id in (connection.calendars or [])]
    if technician is None and not listed:
        raise PermanentError(f"calendar '{calendar_id}' is not the google_calendar_id of any technician nor "
                             "listed in a calendar connection: despacho writes only to known calendars",
                             code="calendar_unknown")
    own = [c for c in connections if technician is not None and c.technician_id == technician.id]
    shared = [c for c in connections if c.technician_id is None]
    for candidate in (own, listed, shared):
        if candidate:
            return candidate[0]
    who = f"technician {technician.id}" if technician is not None else "it"
    raise PermanentError(f"calendar '{calendar_id}' has no Google connection: "
                         f"{reconnect_hint(technician.id if technician else None)} for {who}",
                         code="calendar_not_connected")


def load_grant(session: Session, calendar_id: str, box: SecretBox | None) -> Grant:
    from store.errors import StoreError
    from store.secrets import get_secret

    connection = find_connection(session, calendar_id)
    if connection.status == "broken":
        raise PermanentError(f"the Google connection of {connection.account} is broken "
                             f"({connection.broken_reason or 'no reason recorded'}): "
                             f"{reconnect_hint(connection.technician_id)}", code="calendar_auth")
    token = None
    if connection.kind == "oauth":
        if box is None or not connection.secret_name:
            raise PermanentError(f"the Google connection of {connection.account} has no stored token: "
                                 f"{reconnect_hint(connection.technician_id)}", code="calendar_not_connected")
        try:
            token = get_secret(session, box, connection.secret_name)
        except StoreError as exc:
            raise PermanentError(f"the Google token of {connection.account} cannot be read ({exc}): "
                                 f"{reconnect_hint(connection.technician_id)}", code="calendar_auth") from exc
    return Grant(connection.id, connection.technician_id, connection.kind, connection.account, token)


def _read_json(path: Any, what: str) -> dict[str, Any]:
    if path is None:
        raise PermanentError(f"connectors.calendar.{what} is not set", code="calendar_config")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PermanentError(f"connectors.calendar.{what}: cannot read {path}: {exc}",
                             code="calendar_config") from exc
    if not isinstance(value, dict):
        raise PermanentError(f"connectors.calendar.{what}: {path} is not a JSON object",
                             code="calendar_config")
    return value


def oauth_client(settings: CalendarSettings) -> tuple[str, str]:
    """client_id and client_secret of the OAuth client file (Desktop app: ``installed``; or ``web``)."""
    document = _read_json(settings.client_secrets_file, "client_secrets_file")
    client = document.get("installed") or document.get("web")
    if not isinstance(client, dict) or not client.get("client_id") or not client.get("client_secret"):
        raise PermanentError(f"connectors.calendar.client_secrets_file: {settings.client_secrets_file} has "
                             "no 'installed' or 'web' client with client_id and client_secret",
                             code="calendar_config")
    return str(client["client_id"]), str(client["client_secret"])


def build_credentials(settings: CalendarSettings, grant: Grant) -> Credentials:
    """Credentials without a token yet: the first request (or ``refresh``) fetches one."""
    if grant.kind == "service_account":
        from google.oauth2 import service_account

        info = _read_json(settings.service_account_key_file, "service_account_key_file")
        info["token_uri"] = settings.token_uri
        try:
            account = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=SCOPES)
        except (ValueError, KeyError) as exc:
            raise PermanentError(f"connectors.calendar.service_account_key_file: {exc}",
                                 code="calendar_config") from exc
        return cast("Credentials", account.with_subject(grant.account))
    from google.oauth2.credentials import Credentials as UserCredentials

    client_id, client_secret = oauth_client(settings)
    return UserCredentials(  # type: ignore[no-untyped-call]
        token=None, refresh_token=grant.refresh_token, token_uri=settings.token_uri,
        client_id=client_id, client_secret=client_secret, scopes=SCOPES)


def refresh(settings: CalendarSettings, session_factory: SessionFactory, grant: Grant,
            credentials: Credentials) -> None:
    """Fetch an access token now; record its expiry, or the breakage."""
    import google_auth_httplib2
    import httplib2
    from google.auth.exceptions import RefreshError, TransportError

    try:
        http = httplib2.Http(timeout=settings.timeout)
        credentials.refresh(google_auth_httplib2.Request(http))  # type: ignore[no-untyped-call]
    except RefreshError as exc:
        raise refresh_failed(session_factory, grant, exc) from exc
    except (TransportError, httplib2.HttpLib2Error, OSError) as exc:
        raise TransientError(f"cannot reach Google's token endpoint: {exc}") from exc
    if credentials.expiry is not None:
        record_expiry(session_factory, grant, credentials.expiry)


def record_expiry(session_factory: SessionFactory, grant: Grant, expiry: datetime) -> None:
    """``token_expires_at`` after a refresh (``expiry`` is naive UTC, as google-auth keeps it)."""
    from store.models.calendar import CalendarConnection

    with session_factory() as session:
        connection = session.get(CalendarConnection, grant.connection_id)
        if connection is not None:
            connection.token_expires_at = expiry.replace(tzinfo=UTC)


def refresh_failed(session_factory: SessionFactory, grant: Grant, exc: Exception) -> ConnectorError:
    """The error a refused refresh becomes; ``invalid_grant`` also marks the connection broken."""
    reason = str(exc.args[0] if exc.args else exc)[:500]
    if getattr(exc, "retryable", False):
        return TransientError(f"Google's token endpoint failed for {grant.account}: {reason}")
    if "invalid_grant" not in reason:
        return PermanentError(f"Google refused the credentials of {grant.account}: {reason}",
                              code="calendar_auth")
    mark_broken(session_factory, grant, reason)
    return PermanentError(f"Google refused the grant of {grant.account} ({reason}): the connection is marked "
                          f"broken; {reconnect_hint(grant.technician_id)} to reconnect", code="calendar_auth")


def mark_broken(session_factory: SessionFactory, grant: Grant, reason: str) -> None:
    """Once per breakage: the row locked, the event recorded only by whoever flips the status."""
    from sqlmodel import select

    from store.eventlog import record_event
    from store.models.calendar import CalendarConnection

    with session_factory() as session:
        query = select(CalendarConnection).where(CalendarConnection.id == grant.connection_id)
        connection = session.exec(query.with_for_update()).first()
        if connection is None or connection.status == "broken":
            return
        connection.status, connection.broken_reason = "broken", reason
        record_event(session, "calendar.auth_failed", {
            "connection_id": connection.id, "technician_id": connection.technician_id,
            "account": connection.account, "reason": reason})


def credentials_for(settings: CalendarSettings, session_factory: SessionFactory, calendar_id: str, *,
                    box: SecretBox | None = None) -> Credentials:
    """Fresh credentials of the account acting on ``calendar_id`` (one token request)."""
    with session_factory() as session:
        grant = load_grant(session, calendar_id, box)
    credentials = build_credentials(settings, grant)
    refresh(settings, session_factory, grant, credentials)
    return credentials
