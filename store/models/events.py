"""The event log: every event that entered despacho, stored once."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import Field

from store.json_text import JsonText
from store.models.base import Normalizer, Record, timestamp
from store.validation import check_required


class Event(Record, table=True):
    """One event; ``id`` comes from the caller, so a redelivery is stored once.

    ``dispatched_at`` stays empty until the outbox relay has handed the event
    to the matcher. Indexes: partial ``occurred_at WHERE dispatched_at IS
    NULL`` is the relay's queue (stays tiny as the log grows); ``(type,
    occurred_at)`` serves the dashboard's event list and rule tests.
    """

    __tablename__ = "events"
    __table_args__ = (
        sa.Index("ix_events_undispatched", "occurred_at",
                 postgresql_where=sa.text("dispatched_at IS NULL"),
                 sqlite_where=sa.text("dispatched_at IS NULL")),
        sa.Index(None, "type", "occurred_at"),
        # a person's events (privacy export, anonymisation): by the customer id the payload
        # carries, and inbound messages from an unknown sender by the sender's number
        sa.Index("ix_events_payload_customer_id", JsonText(sa.column("payload"), "customer", "id")),
        sa.Index("ix_events_payload_from", JsonText(sa.column("payload"), "from")),
    )
    entity: ClassVar[str] = "event"
    normalizers: ClassVar[dict[str, Normalizer]] = {"id": check_required, "type": check_required}

    id: str = Field(primary_key=True, max_length=200)
    type: str = Field(max_length=100)
    source: str = Field(default="despacho", max_length=100)
    occurred_at: datetime = timestamp(nullable=False)
    recorded_at: datetime = timestamp(default_now=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    dispatched_at: datetime | None = timestamp()
