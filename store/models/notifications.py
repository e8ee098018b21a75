"""Notifications: every email, SMS and WhatsApp message despacho sent or tried to."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import Field

from store.models.base import Normalizer, Record, timestamp
from store.types import new_id
from store.validation import check_choice, check_required

NOTIFICATION_CHANNELS = ("email", "sms", "whatsapp")
NOTIFICATION_STATUSES = ("pending", "sent", "delivered", "read", "failed", "undelivered")


class Notification(Record, table=True):
    """One message to one recipient.

    ``status_history`` is a list of ``{"status", "at", "detail"}`` appended by
    provider callbacks. Indexes: unique ``(provider, provider_id)`` matches a
    delivery callback to its row; ``(customer_id, created_at)`` serves the
    customer's history and per-customer throttles; ``(status, created_at)``
    the dashboard's failures; ``created_at`` its counts by channel over a
    period; ``step_id`` links back to the rule step.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        sa.UniqueConstraint("provider", "provider_id"),
        sa.Index(None, "customer_id", "created_at"),
        sa.Index(None, "status", "created_at"),
        sa.Index(None, "created_at"),
    )
    entity: ClassVar[str] = "notification"
    normalizers: ClassVar[dict[str, Normalizer]] = {
        "recipient": check_required,
        "channel": partial(check_choice, choices=NOTIFICATION_CHANNELS),
        "status": partial(check_choice, choices=NOTIFICATION_STATUSES),
    }

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    step_id: str | None = Field(default=None, foreign_key="rule_steps.id", index=True, max_length=36)
    customer_id: str | None = Field(default=None, foreign_key="customers.id", max_length=36)
    channel: str = Field(max_length=20)
    recipient: str = Field(max_length=254)
    template: str | None = Field(default=None, max_length=100)
    subject: str | None = Field(default=None, max_length=300)
    body: str = Field(default="", sa_type=sa.Text)
    encoding: str | None = Field(default=None, max_length=10, description="GSM-7 or UCS-2 for SMS")
    segments: int | None = None
    provider: str | None = Field(default=None, max_length=50)
    provider_id: str | None = Field(default=None, max_length=100)
    status: str = Field(default="pending", max_length=20)
    status_history: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    error_code: str | None = Field(default=None, max_length=100)
    error_message: str | None = Field(default=None, max_length=2000)
    created_at: datetime = timestamp(default_now=True)
    sent_at: datetime | None = timestamp()
    delivered_at: datetime | None = timestamp()
    deleted_at: datetime | None = timestamp()
