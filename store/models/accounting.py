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

SYNC_ENTITIES = ("customer", "invoice", "payment", "service_order", "service_invoice")
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
        sa.Index(None, "entity_id"),  # a person's records (privacy export), whatever the system
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
    # the values both sides last agreed on (amount, due_date, status, settlement...): a field that
    # differs on both sides from these is a conflict, settled by ownership in the config
    synced_fields: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    # the system's own version of the record (etag, updated-at, version number) when it has one
    remote_version: str | None = Field(default=None, max_length=100)
    synced_at: datetime | None = timestamp()
    created_at: datetime = timestamp(default_now=True)
    updated_at: datetime = timestamp(default_now=True, onupdate=True)
    deleted_at: datetime | None = timestamp()


class AccountingSyncAudit(Record, table=True):
    """One request/response with an accounting system, secrets already removed.

    Indexes: ``(record_id, at)`` shows a record's trail in order; ``entity_id`` finds the calls
    about a person's records (privacy export), also those that made no sync record.
    """

    __tablename__ = "accounting_sync_audit"
    __table_args__ = (sa.Index(None, "record_id", "at"), sa.Index(None, "entity_id"))
    entity: ClassVar[str] = "accounting_sync_audit"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    # NULL for calls about no single record (a check, a reconciliation listing)
    record_id: str | None = Field(default=None, foreign_key="accounting_sync_records.id", max_length=36)
    at: datetime = timestamp(default_now=True, index=True)
    system: str | None = Field(default=None, max_length=50)
    entity_type: str | None = Field(default=None, max_length=20)
    entity_id: str | None = Field(default=None, max_length=36)
    direction: str = Field(default="push", max_length=10, description="push (to the system) or pull")
    operation: str = Field(max_length=50, description="create, update, fetch, cancel, settle, refund...")
    request: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    response: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    status_code: int | None = None
    diff: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON, description="field: [before, after]")
    outcome: str = Field(default="ok", max_length=20, description="ok, duplicate, failed, conflict, skipped")
    error: str | None = Field(default=None, max_length=2000)
    rule_id: str | None = Field(default=None, max_length=100)
    step_id: str | None = Field(default=None, max_length=36)


class AccountingConflict(Record, table=True):
    """A field changed on both sides since the last sync: both values, the owner, what was kept."""

    __tablename__ = "accounting_conflicts"
    __table_args__ = (sa.Index(None, "system", "entity_type", "entity_id"),)
    entity: ClassVar[str] = "accounting_conflict"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    system: str = Field(max_length=50)
    entity_type: str = Field(max_length=20)
    entity_id: str = Field(max_length=36)
    field: str = Field(max_length=50)
    ours: Any = Field(default=None, sa_type=sa.JSON, nullable=True)
    theirs: Any = Field(default=None, sa_type=sa.JSON, nullable=True)
    owner: str = Field(max_length=20, description="despacho or provider, from the config")
    kept: str = Field(max_length=20, description="ours or theirs")
    detected_at: datetime = timestamp(default_now=True, index=True)


class AccountingWebhookReceipt(Record, table=True):
    """A webhook delivery already taken in (Asaas delivers at least once, in any order)."""

    __tablename__ = "accounting_webhook_receipts"
    entity: ClassVar[str] = "accounting_webhook_receipt"

    system: str = Field(primary_key=True, max_length=50)
    event_id: str = Field(primary_key=True, max_length=100)
    event_type: str = Field(max_length=60)
    received_at: datetime = timestamp(default_now=True)


class AccountingConnection(Record, table=True):
    """An OAuth grant to a system for one client company (Conta Azul).

    The refresh token rotates on every refresh: it lives encrypted in ``secrets`` under
    ``secret_name`` and ``token_version`` increments with each rotation, so two workers
    refreshing at once cannot both store (one compare-and-set wins; the other re-reads).
    """

    __tablename__ = "accounting_connections"
    __table_args__ = (sa.UniqueConstraint("system", "company"),)
    entity: ClassVar[str] = "accounting_connection"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    system: str = Field(max_length=50)
    company: str = Field(default="default", max_length=100)
    secret_name: str | None = Field(default=None, max_length=200)
    token_version: int = 0
    status: str = Field(default="connected", max_length=20)
    broken_reason: str | None = Field(default=None, max_length=500)
    token_expires_at: datetime | None = timestamp()
    created_at: datetime = timestamp(default_now=True)
    updated_at: datetime = timestamp(default_now=True, onupdate=True)
