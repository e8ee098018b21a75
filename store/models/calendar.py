"""Google Calendar: links between appointments and events, sync state, connections, conflicts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import Field

from store.models.base import Record, timestamp
from store.types import new_id


class CalendarLink(Record, table=True):
    """An appointment mirrored as a Google event.

    ``etag`` detects edits made in Google since our last write. Indexes:
    ``appointment_id`` unique (one event per visit); ``(calendar_id,
    google_event_id)`` unique (a push notification finds its appointment).
    """

    __tablename__ = "calendar_links"
    __table_args__ = (sa.UniqueConstraint("calendar_id", "google_event_id"),)
    entity: ClassVar[str] = "calendar_link"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    appointment_id: str = Field(foreign_key="appointments.id", unique=True, max_length=36)
    calendar_id: str = Field(max_length=255)
    google_event_id: str = Field(max_length=1024)
    etag: str | None = Field(default=None, max_length=255)
    synced_at: datetime | None = timestamp()
    # the event as both sides last agreed (start, end, status, summary): a change on either
    # side is a difference from this; both sides different is a conflict
    synced_version: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    # the Google ``updated`` time of the version we wrote or read last: a pushed change with this
    # time (or our etag) is our own write coming back, not news
    google_updated: datetime | None = timestamp()
    created_at: datetime = timestamp(default_now=True)
    updated_at: datetime = timestamp(default_now=True, onupdate=True)
    deleted_at: datetime | None = timestamp()


class CalendarSyncState(Record, table=True):
    """Incremental sync token and push channel of one calendar."""

    __tablename__ = "calendar_sync_states"
    entity: ClassVar[str] = "calendar_sync_state"

    calendar_id: str = Field(primary_key=True, max_length=255)
    sync_token: str | None = Field(default=None, max_length=1024)
    channel_id: str | None = Field(default=None, max_length=255)
    channel_resource_id: str | None = Field(default=None, max_length=255)
    channel_expires_at: datetime | None = timestamp()
    # checked in constant time against X-Goog-Channel-Token on each push
    channel_token: str | None = Field(default=None, max_length=255)
    # the highest X-Goog-Message-Number seen on the channel: a replayed push is not news
    last_message_number: int | None = Field(default=None, sa_type=sa.BigInteger)
    connection_id: str | None = Field(default=None, foreign_key="calendar_connections.id", max_length=36)
    last_synced_at: datetime | None = timestamp()
    full_synced_at: datetime | None = timestamp()


class CalendarConnection(Record, table=True):
    """A Google account despacho acts as: one per technician, or a shared one (``technician_id`` NULL).

    ``kind`` ``oauth``: the refresh token lives encrypted in ``secrets`` under ``secret_name``;
    ``service_account``: the key file is in config and ``account`` is the user it acts as
    (domain-wide delegation). ``status`` ``broken`` (a revoked grant) makes calendar actions
    fail at once with a message saying to reconnect.
    """

    __tablename__ = "calendar_connections"
    entity: ClassVar[str] = "calendar_connection"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    technician_id: str | None = Field(default=None, foreign_key="technicians.id", unique=True,
                                      max_length=36)
    kind: str = Field(default="oauth", max_length=20)
    account: str = Field(max_length=320)
    secret_name: str | None = Field(default=None, max_length=200)
    status: str = Field(default="connected", max_length=20)
    broken_reason: str | None = Field(default=None, max_length=500)
    token_expires_at: datetime | None = timestamp()
    calendars: list[str] | None = Field(default=None, sa_type=sa.JSON)
    created_at: datetime = timestamp(default_now=True)
    updated_at: datetime = timestamp(default_now=True, onupdate=True)


class CalendarConflict(Record, table=True):
    """Both sides changed an appointment since the last sync: both versions, and who won."""

    __tablename__ = "calendar_conflicts"
    entity: ClassVar[str] = "calendar_conflict"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    appointment_id: str = Field(foreign_key="appointments.id", index=True, max_length=36)
    calendar_id: str = Field(max_length=255)
    google_event_id: str = Field(max_length=1024)
    ours: dict[str, Any] = Field(sa_type=sa.JSON)
    theirs: dict[str, Any] = Field(sa_type=sa.JSON)
    policy: str = Field(max_length=20)
    winner: str = Field(max_length=20)
    detected_at: datetime = timestamp(default_now=True, index=True)
