"""Accounting sync records, their trail, retries and reconciliation reports on the wire."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field


class SyncRecordOut(BaseModel):
    id: str
    system: str
    entity_type: str
    entity_id: str
    external_id: str | None
    integration_code: str
    status: str
    attempts: int
    last_error: str | None
    synced_fields: dict[str, Any] | None
    remote_version: str | None
    synced_at: str | None
    created_at: str | None
    updated_at: str | None


class SyncRecordsOut(BaseModel):
    items: list[SyncRecordOut]


class SyncRecordDetail(BaseModel):
    record: SyncRecordOut
    conflicts: list[dict[str, Any]]
    audit: list[dict[str, Any]] = Field(description="Each exchange, oldest first; requests summarised")


class SyncRetriedOut(BaseModel):
    requeued: dict[str, str] = Field(description="record id -> the step queued again")
    skipped: dict[str, str] = Field(description="record id -> why it was not retried")


class ReconcileIn(BaseModel):
    since: date
    system: str | None = Field(None, max_length=50)


class ReconcileOut(BaseModel):
    ok: bool
    reports: list[dict[str, Any]]
