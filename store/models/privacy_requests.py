"""Data-protection records (LGPD): subjects' requests and security incidents."""

from __future__ import annotations

from datetime import date, datetime
from functools import partial
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import Field

from store.models.base import Normalizer, Record, timestamp
from store.types import new_id
from store.validation import check_choice, check_required

REQUEST_KINDS = ("export", "correct", "anonymise", "processors", "access")
REQUEST_STATUSES = ("open", "done", "refused")
INCIDENT_RISKS = ("low", "medium", "high")
INCIDENT_STATUSES = ("open", "closed")


class PrivacyRequest(Record, table=True):
    """A request of a data subject (LGPD art. 18), answered within 15 days (``deadline``).

    ``subject`` is what the requester gave (a customer id, phone, email or CPF as typed is
    not kept: only the customer's id once found, so the register itself holds no contact data).
    Indexes: ``(status, deadline)`` lists the open ones, overdue first; ``customer_id``.
    """

    __tablename__ = "privacy_requests"
    __table_args__ = (sa.Index(None, "status", "deadline"),)
    entity: ClassVar[str] = "privacy_request"
    normalizers: ClassVar[dict[str, Normalizer]] = {
        "kind": partial(check_choice, choices=REQUEST_KINDS),
        "status": partial(check_choice, choices=REQUEST_STATUSES),
        "requested_by": check_required,
    }

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    kind: str = Field(max_length=20)
    customer_id: str | None = Field(default=None, foreign_key="customers.id", index=True, max_length=36)
    requested_at: datetime = timestamp(default_now=True)
    deadline: datetime = timestamp(nullable=False)
    status: str = Field(default="open", max_length=20)
    requested_by: str = Field(max_length=200, description="user:NAME or api_client:ID who recorded it")
    notes: str | None = Field(default=None, max_length=2000)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False,
                                    description="what was done: fields corrected, rows anonymised, ...")
    closed_at: datetime | None = timestamp()


class PrivacyIncident(Record, table=True):
    """A security incident involving personal data, and its notices (Resolution CD/ANPD 15/2024).

    ``deadline`` is 3 business days after ``detected_at``: the notice to the ANPD and to the
    subjects is due then. Index: ``detected_at`` (the register, newest first).
    """

    __tablename__ = "privacy_incidents"
    entity: ClassVar[str] = "privacy_incident"
    normalizers: ClassVar[dict[str, Normalizer]] = {
        "summary": check_required,
        "risk": partial(check_choice, choices=INCIDENT_RISKS),
        "status": partial(check_choice, choices=INCIDENT_STATUSES),
    }

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    summary: str = Field(max_length=2000, description="what happened")
    occurred_at: datetime | None = timestamp(description="when it happened, when known")
    detected_at: datetime = timestamp(nullable=False, index=True)
    deadline: date = Field(description="3 Brazilian business days after detection")
    data_categories: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    subjects_affected: int = Field(default=0, ge=0)
    risk: str = Field(default="medium", max_length=10)
    measures: str | None = Field(default=None, max_length=4000)
    anpd_notified_at: datetime | None = timestamp()
    subjects_notified_at: datetime | None = timestamp()
    status: str = Field(default="open", max_length=10)
    recorded_by: str = Field(max_length=200)
    created_at: datetime = timestamp(default_now=True)
    updated_at: datetime = timestamp(default_now=True, onupdate=True)
