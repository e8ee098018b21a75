"""WhatsApp conversations and messages; the last inbound time opens the 24 h window."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import ClassVar

import sqlalchemy as sa
from sqlmodel import Field

from store.models.base import Normalizer, Record, timestamp
from store.types import new_id
from store.validation import check_choice, check_required, normalize_phone

DIRECTIONS = ("inbound", "outbound")


class WhatsAppConversation(Record, table=True):
    """One conversation per phone number.

    Free-form messages may be sent only within 24 h of ``last_inbound_at``;
    outside it a template is required. Indexes: ``phone`` unique (an inbound
    webhook finds its conversation); ``customer_id``.
    """

    __tablename__ = "whatsapp_conversations"
    entity: ClassVar[str] = "whatsapp_conversation"
    normalizers: ClassVar[dict[str, Normalizer]] = {"phone": normalize_phone}

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    phone: str = Field(max_length=20, unique=True, description="E.164")
    customer_id: str | None = Field(default=None, foreign_key="customers.id", index=True, max_length=36)
    last_inbound_at: datetime | None = timestamp()
    last_outbound_at: datetime | None = timestamp()
    opted_out_at: datetime | None = timestamp()
    created_at: datetime = timestamp(default_now=True)


class WhatsAppMessage(Record, table=True):
    """One message in a conversation, either way.

    Indexes: ``(conversation_id, created_at)`` shows the thread;
    ``provider_id`` unique makes a redelivered webhook a no-op; ``notification_id`` finds the
    messages of a notification (the retention purge keeps a notification a message points at,
    and deleting a notification checks this foreign key).
    """

    __tablename__ = "whatsapp_messages"
    __table_args__ = (sa.Index(None, "conversation_id", "created_at"), sa.Index(None, "notification_id"))
    entity: ClassVar[str] = "whatsapp_message"
    normalizers: ClassVar[dict[str, Normalizer]] = {
        "conversation_id": check_required,
        "direction": partial(check_choice, choices=DIRECTIONS),
    }

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    conversation_id: str = Field(foreign_key="whatsapp_conversations.id", max_length=36)
    notification_id: str | None = Field(default=None, foreign_key="notifications.id", max_length=36)
    direction: str = Field(max_length=10)
    body: str = Field(default="", sa_type=sa.Text)
    template: str | None = Field(default=None, max_length=100)
    provider_id: str | None = Field(default=None, max_length=100, unique=True)
    status: str = Field(default="received", max_length=20)
    error_code: str | None = Field(default=None, max_length=100)
    created_at: datetime = timestamp(default_now=True)
