"""Consent and suppression: the proof that a person agreed to marketing, and who refused everything.

``ConsentRecord`` rows are appended, never changed: each says that a
customer granted or withdrew consent for one purpose on one channel, when,
from which source (``service_order:OS-123``, ``whatsapp_optin:<sid>``,
``api:<client>``, ``import``) and under which wording version. The current
state is the latest row; the history is the proof LGPD asks for.

``Suppression`` rows are addresses (a phone in E.164 or a lower-case
email) that no message may reach on a channel (or on ``all``), whoever the
customer: an opt-out keyword, an unsubscribe link, the API.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import ClassVar

import sqlalchemy as sa
from sqlmodel import Field

from store.models.base import Normalizer, Record, timestamp
from store.types import new_id
from store.validation import check_choice, check_required

CONSENT_CHANNELS = ("email", "sms", "whatsapp")
SUPPRESSION_CHANNELS = (*CONSENT_CHANNELS, "all")
PURPOSES = ("marketing",)
DECISIONS = ("granted", "withdrawn")


class ConsentRecord(Record, table=True):
    """One decision of a customer about one purpose on one channel; the newest one is in force.

    Index ``(customer_id, channel, purpose, recorded_at)``: the current state is one look-up.
    """

    __tablename__ = "consent_records"
    __table_args__ = (sa.Index(None, "customer_id", "channel", "purpose", "recorded_at"),)
    entity: ClassVar[str] = "consent_record"
    normalizers: ClassVar[dict[str, Normalizer]] = {
        "customer_id": check_required,
        "channel": partial(check_choice, choices=CONSENT_CHANNELS),
        "purpose": partial(check_choice, choices=PURPOSES),
        "decision": partial(check_choice, choices=DECISIONS),
        "source": check_required,
    }

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    customer_id: str = Field(foreign_key="customers.id", max_length=36)
    channel: str = Field(max_length=20)
    purpose: str = Field(default="marketing", max_length=20)
    decision: str = Field(max_length=10)
    source: str = Field(max_length=200, description="service_order:OS-123, api:<client>, ...")
    wording_version: str | None = Field(default=None, max_length=50,
                                        description="version of the text the customer agreed to")
    actor: str | None = Field(default=None, max_length=200, description="who recorded it")
    recorded_at: datetime = timestamp(default_now=True)


class Suppression(Record, table=True):
    """An address no message may reach on ``channel`` (or on any channel: ``all``).

    Unique ``(address, channel)``: suppressing twice keeps the first row (and its proof).
    """

    __tablename__ = "suppressions"
    __table_args__ = (sa.UniqueConstraint("address", "channel"),)
    entity: ClassVar[str] = "suppression"
    normalizers: ClassVar[dict[str, Normalizer]] = {
        "address": check_required,
        "channel": partial(check_choice, choices=SUPPRESSION_CHANNELS),
        "source": check_required,
    }

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    address: str = Field(max_length=254, description="a phone in E.164 or a lower-case email")
    channel: str = Field(max_length=20)
    reason: str = Field(max_length=200)
    source: str = Field(max_length=200)
    created_at: datetime = timestamp(default_now=True)
    confirmation_sent_at: datetime | None = timestamp()
