"""Google accounts despacho acts as: saving a grant (its refresh token encrypted), listing them.

One connection per technician, or one shared (``technician_id`` NULL). Connecting again
replaces the grant in place, so a broken connection becomes whole by running connect again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from store.errors import NotFound

if TYPE_CHECKING:
    from sqlmodel import Session

    from store.models.calendar import CalendarConnection
    from store.secrets import SecretBox

SECRET_PREFIX = "calendar.oauth."


@dataclass(frozen=True)
class NewGrant:
    """What connecting brought back: the account, how despacho signs in as it, what it can see.

    ``kind`` ``oauth`` carries the refresh token; ``service_account`` none (the key file is in
    the config).
    """

    kind: str
    account: str
    refresh_token: str | None
    calendars: Sequence[str]


def save_connection(session: Session, box: SecretBox, technician_id: str | None,
                    grant: NewGrant) -> CalendarConnection:
    """Store the grant for the technician (or the shared account); status back to connected."""
    from sqlmodel import select

    from store.models.calendar import CalendarConnection
    from store.models.technicians import Technician
    from store.secrets import put_secret

    if technician_id is not None and session.get(Technician, technician_id) is None:
        raise NotFound("technician", technician_id)
    connection = session.exec(select(CalendarConnection).where(
        CalendarConnection.technician_id == technician_id)).first()
    if connection is None:
        connection = CalendarConnection(technician_id=technician_id, account=grant.account)
        session.add(connection)
    connection.kind, connection.account = grant.kind, grant.account
    connection.status, connection.broken_reason = "connected", None
    connection.calendars = list(grant.calendars)
    connection.secret_name = None
    if grant.refresh_token is not None:
        connection.secret_name = SECRET_PREFIX + connection.id
        put_secret(session, box, connection.secret_name, grant.refresh_token)
    session.flush()
    return connection


def list_connections(session: Session) -> list[CalendarConnection]:
    from sqlmodel import col, select

    from store.models.calendar import CalendarConnection

    rows = session.exec(select(CalendarConnection).order_by(col(CalendarConnection.created_at)))
    return list(rows)


def find_connection_of(session: Session, technician_id: str | None) -> CalendarConnection:
    """The technician's connection, or the shared one (``None``); ``NotFound`` when there is none."""
    from sqlmodel import select

    from store.models.calendar import CalendarConnection

    connection = session.exec(select(CalendarConnection).where(
        CalendarConnection.technician_id == technician_id)).first()
    if connection is None:
        raise NotFound("calendar connection", technician_id or "(shared)", field="technician_id")
    return connection


def connection_calendars(session: Session, connection: CalendarConnection) -> list[str]:
    """The calendars the connection acts on: its technician's own, then the ones listed at connect."""
    from store.models.technicians import Technician

    technician = session.get(Technician, connection.technician_id) if connection.technician_id else None
    own = [technician.google_calendar_id] if technician is not None else []
    return [c for c in dict.fromkeys(own + list(connection.calendars or [])) if c]


def remove_connection(session: Session, connection_id: str) -> None:
    """Forget the connection and its stored refresh token (a disconnect)."""
    from store.models.calendar import CalendarConnection
    from store.secrets import delete_secret

    connection = session.get(CalendarConnection, connection_id)
    if connection is None:
        raise NotFound("calendar connection", connection_id)
    if connection.secret_name:
        delete_secret(session, connection.secret_name)
    session.delete(connection)
    session.flush()
