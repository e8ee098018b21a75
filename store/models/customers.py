"""Customers: who is served, and how they want to be reached."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import ClassVar

import sqlalchemy as sa
from sqlmodel import Field

from store.models.base import Normalizer, Record, timestamp
from store.tax_ids import normalize_tax_id
from store.types import new_id
from store.validation import (
    check_choice,
    check_choices,
    check_required,
    normalize_email,
    normalize_phone,
)

CHANNELS = ("email", "sms", "whatsapp")
TIERS = ("standard", "premium", "enterprise")


class Customer(Record, table=True):
    """A customer.

    Indexes: ``phone`` finds the customer behind an inbound WhatsApp/SMS;
    ``email`` the one behind a reply; ``name`` serves the dashboard search.
    """

    __tablename__ = "customers"
    entity: ClassVar[str] = "customer"
    normalizers: ClassVar[dict[str, Normalizer]] = {
        "name": check_required,
        "email": normalize_email,
        "phone": normalize_phone,
        "tier": partial(check_choice, choices=TIERS),
        "preferred_channel": partial(check_choice, choices=CHANNELS),
        "opt_outs": partial(check_choices, choices=CHANNELS),
        "tax_id": normalize_tax_id,
    }

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=200, index=True)
    email: str | None = Field(default=None, max_length=254, index=True)
    phone: str | None = Field(default=None, max_length=20, index=True, description="E.164")
    tier: str = Field(default="standard", max_length=20)
    preferred_channel: str = Field(default="whatsapp", max_length=20)
    opt_outs: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False,
                                description="channels the customer refused")
    time_zone: str = Field(default="America/Sao_Paulo", max_length=64)
    address: str | None = Field(default=None, max_length=300)
    city: str | None = Field(default=None, max_length=100)
    state: str | None = Field(default=None, max_length=2)
    postal_code: str | None = Field(default=None, max_length=9)
    tax_id: str | None = Field(default=None, max_length=14, index=True,
                               description="CPF (11 digits) or CNPJ (14), no punctuation")
    created_at: datetime = timestamp(default_now=True)
    updated_at: datetime = timestamp(default_now=True, onupdate=True)
    deleted_at: datetime | None = timestamp()
