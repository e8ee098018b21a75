"""Links between appointments and Google Calendar events, and per-calendar sync state."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

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
    last_synced_at: datetime | None = timestamp()
