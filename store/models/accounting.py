"""What was sent to which accounting system, and the trail of every exchange."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import Field

from store.models.base import Normalizer, Record, timestamp
from store.types import new_id
from store.validation import check_choice, check_required

SYNC_ENTITIES = ("customer", "invoice", "payment")
SYNC_STATUSES = ("pending", "synced", "failed")


class AccountingSyncRecord(Record, table=True):
    """One of our records as known to one accounting system.

    ``integration_code`` is the idempotency key sent to systems that accept
    one. Indexes: unique ``(system, entity_type, entity_id)`` (is this invoice
    already there?); unique ``(system, external_id)`` (a webhook from the
    system finds our record); ``(status, updated_at)`` for ``despacho sync``
    retries and the dashboard.
    """

    __tablename__ = "accounting_sync_records"
    __table_args__ = (
        sa.UniqueConstraint("system", "entity_type", "entity_id"),
        sa.UniqueConstraint("system", "external_id"),
        sa.Index(None, "status", "updated_at"),
    )
    entity: ClassVar[str] = "accounting_sync_record"
    normalizers: ClassVar[dict[str, Normalizer]] = {
        "system": check_required,
        "entity_id": check_required,
        "entity_type": partial(check_choice, choices=SYNC_ENTITIES),
        "status": partial(check_choice, choices=SYNC_STATUSES),
    }

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    system: str = Field(max_length=50)
    entity_type: str = Field(max_length=20)
    entity_id: str = Field(max_length=36)
    external_id: str | None = Field(default=None, max_length=100)
    integration_code: str = Field(max_length=100)
    status: str = Field(default="pending", max_length=20)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=2000)
    synced_at: datetime | None = timestamp()
    created_at: datetime = timestamp(default_now=True)
    updated_at: datetime = timestamp(default_now=True, onupdate=True)
    deleted_at: datetime | None = timestamp()


class AccountingSyncAudit(Record, table=True):
    """One request/response with an accounting system, secrets already removed.

    Index: ``(record_id, at)`` shows a record's trail in order.
    """

    __tablename__ = "accounting_sync_audit"
    __table_args__ = (sa.Index(None, "record_id", "at"),)
    entity: ClassVar[str] = "accounting_sync_audit"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    record_id: str = Field(foreign_key="accounting_sync_records.id", max_length=36)
    at: datetime = timestamp(default_now=True)
    operation: str = Field(max_length=50, description="create, update, fetch, cancel")
    request: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    response: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=2000)
