"""Disconnecting a Google account: its push channels stopped, its grant and token forgotten.

Google keeps sending to a channel until it expires unless ``channels.stop`` is called, so
the channels go first, while the grant still works. A broken grant cannot stop them: they
are forgotten here instead (the webhook then refuses their notifications as unknown).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from connectors.calendar.api import CalendarApi
from connectors.calendar.auth import Grant, SessionFactory, build_credentials
from connectors.calendar.channels import stop_channels
from connectors.calendar.settings import CalendarSettings
from errors import ConnectorError

if TYPE_CHECKING:
    from sqlmodel import Session

    from store.models.calendar import CalendarConnection
    from store.secrets import SecretBox


@dataclass
class Disconnected:
    """What a disconnect did: which account, which channels stopped at Google or only forgotten."""

    connection_id: str
    account: str
    technician_id: str | None
    calendars: list[str]
    stopped: list[str] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)
    problem: str | None = None  # why channels could not be stopped at Google


def disconnect(settings: CalendarSettings, session_factory: SessionFactory, box: SecretBox | None,
               technician_id: str | None) -> Disconnected:
    """Stop the connection's channels, then delete it and its stored token (``NotFound`` if none)."""
    from store.calendar_connections import connection_calendars, find_connection_of, remove_connection

    with session_factory() as session:
        connection = find_connection_of(session, technician_id)
        result = Disconnected(connection.id, connection.account, connection.technician_id,
                              connection_calendars(session, connection))
        grant = _usable_grant(session, connection, box)
    api, result.problem = _api(settings, grant) if isinstance(grant, Grant) else (None, grant)
    for calendar_id in result.calendars:
        if stop_channels(api, session_factory, calendar_id):
            (result.stopped if api is not None else result.forgotten).append(calendar_id)
    with session_factory() as session:
        remove_connection(session, connection.id)
    return result


def _usable_grant(session: Session, connection: CalendarConnection, box: SecretBox | None) -> Grant | str:
    """The grant to stop channels with, or why there is none."""
    from connectors.calendar.report import grant_of

    if connection.status == "broken":
        return f"the grant is broken ({connection.broken_reason or 'revoked'})"
    return grant_of(session, connection, box)


def _api(settings: CalendarSettings, grant: Grant) -> tuple[CalendarApi | None, str | None]:
    try:
        return CalendarApi(settings, build_credentials(settings, grant)), None
    except ConnectorError as exc:
        return None, str(exc)
