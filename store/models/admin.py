"""Operating records: backups, API clients, the audit log, feature flags, secrets."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import Field

from store.models.base import Normalizer, Record, timestamp
from store.types import new_id
from store.validation import check_choice, check_required

FLAG_MODES = ("on", "off", "shadow", "percent", "subjects")

BACKUP_STATUSES = ("running", "succeeded", "failed")


class Backup(Record, table=True):
    """One database backup. Index: ``started_at`` (latest backups, retention)."""

    __tablename__ = "backups"
    entity: ClassVar[str] = "backup"
    normalizers: ClassVar[dict[str, Normalizer]] = {
        "status": partial(check_choice, choices=BACKUP_STATUSES),
    }

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    status: str = Field(default="running", max_length=20)
    location: str | None = Field(default=None, max_length=1000)
    size_bytes: int | None = Field(default=None, sa_type=sa.BigInteger)
    sha256: str | None = Field(default=None, max_length=64)
    error: str | None = Field(default=None, max_length=2000)
    started_at: datetime = timestamp(default_now=True, index=True)
    finished_at: datetime | None = timestamp()
    verified_at: datetime | None = timestamp()  # restic check + test restore passed (None: not verified)
    deleted_at: datetime | None = timestamp()


class ApiClient(Record, table=True):
    """A caller of the REST API. Only a hash of the key is kept; ``key_prefix`` finds the row."""

    __tablename__ = "api_clients"
    entity: ClassVar[str] = "api_client"
    normalizers: ClassVar[dict[str, Normalizer]] = {"name": check_required}

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=200)
    key_prefix: str = Field(max_length=16, unique=True)
    key_hash: str = Field(max_length=200)
    scopes: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    event_types: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False,
                                   description="patterns of the event types it may send (POST /v1/events)")
    event_source: str = Field(default="api", max_length=100,
                              description="the source of every event it sends; the body cannot choose")
    created_at: datetime = timestamp(default_now=True)
    last_used_at: datetime | None = timestamp()
    revoked_at: datetime | None = timestamp()
    deleted_at: datetime | None = timestamp()


class AuditLogEntry(Record, table=True):
    """Who did what to which record (people, API clients, rules).

    Indexes: ``(entity_type, entity_id, at)`` (a record's history); ``at``
    (the latest activity).
    """

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index(None, "entity_type", "entity_id", "at"),)
    entity: ClassVar[str] = "audit_log_entry"
    normalizers: ClassVar[dict[str, Normalizer]] = {"actor": check_required, "action": check_required}

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    at: datetime = timestamp(default_now=True, index=True)
    actor: str = Field(max_length=200, description="user:NAME, api_client:ID or rule:ID")
    action: str = Field(max_length=100)
    entity_type: str | None = Field(default=None, max_length=50)
    entity_id: str | None = Field(default=None, max_length=200)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)


class FeatureFlag(Record, table=True):
    """A switch admins flip without a deploy: a rule (``rule:ID``), an integration (``connector:NAME``)
    or one action (``action:CONNECTOR.ACTION``) on, off, in shadow, or on for some subjects only.

    ``mode`` ``percent`` turns it on for ``percent`` % of the subjects (a stable hash of the
    value at ``subject_key`` in the event, e.g. ``data.customer.id``); ``subjects`` for the
    values listed in ``subjects``; ``shadow`` plans and traces the calls without making them.
    """

    __tablename__ = "feature_flags"
    entity: ClassVar[str] = "feature_flag"
    normalizers: ClassVar[dict[str, Normalizer]] = {
        "mode": partial(check_choice, choices=FLAG_MODES),
    }

    key: str = Field(primary_key=True, max_length=100)
    mode: str = Field(default="on", max_length=10)
    percent: int | None = Field(default=None, ge=0, le=100)
    subjects: list[str] | None = Field(default=None, sa_type=sa.JSON)
    subject_key: str | None = Field(default=None, max_length=200,
                                    description="where the subject is in the event, e.g. data.customer.id")
    description: str | None = Field(default=None, max_length=500)
    updated_at: datetime = timestamp(default_now=True, onupdate=True)
    updated_by: str | None = Field(default=None, max_length=200)


class Secret(Record, table=True):
    """A secret encrypted with the key named by ``key_id``; the key lives outside the database."""

    __tablename__ = "secrets"
    entity: ClassVar[str] = "secret"

    name: str = Field(primary_key=True, max_length=200)
    ciphertext: bytes = Field(sa_type=sa.LargeBinary)
    key_id: str = Field(max_length=50)
    created_at: datetime = timestamp(default_now=True)
    updated_at: datetime = timestamp(default_now=True, onupdate=True)
    rotated_at: datetime | None = timestamp()
