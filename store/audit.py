"""The audit log: critical actions as they happen, and API requests in batches.

A critical action (client created, dead letters reprocessed, rules
reloaded, a restore) is written in the caller's transaction, so it exists
exactly when the action committed. Request records arrive in bulk from the
API's buffer through ``insert_entries`` (one bulk insert, not one commit
per request).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from store.bulk import insert_rows
from store.models import AuditLogEntry
from store.types import new_id, utcnow

REQUEST_ACTION = "http.request"


def record_action(session: Session, actor: str, action: str, *, entity_type: str | None = None,
                  entity_id: str | None = None, details: dict[str, Any] | None = None) -> AuditLogEntry:
    entry = AuditLogEntry(actor=actor, action=action, entity_type=entity_type, entity_id=entity_id,
                          details=details or {})
    session.add(entry)
    return entry


def entry_values(actor: str, action: str, *, at: datetime | None = None, entity_type: str | None = None,
                 entity_id: str | None = None, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """One row for ``insert_entries``; filled in here because a bulk insert skips the model defaults."""
    return {"id": new_id(), "at": at or utcnow(), "actor": actor, "action": action,
            "entity_type": entity_type, "entity_id": entity_id, "details": details or {}}


def insert_entries(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Rows from ``entry_values``, in one statement (``store.bulk``: SQLAlchemy's own executemany
    cost the API's request audit more than SQLite's work)."""
    insert_rows(session, AuditLogEntry.__table__, rows)
    return len(rows)


def query_entries(session: Session, *, actor: str | None = None, action: str | None = None,
                  entity_type: str | None = None, entity_id: str | None = None,
                  since: datetime | None = None, until: datetime | None = None,
                  include_requests: bool = True, limit: int = 100) -> Sequence[AuditLogEntry]:
    """Newest first."""
    statement = select(AuditLogEntry)
    conditions = {AuditLogEntry.actor: actor, AuditLogEntry.action: action,
                  AuditLogEntry.entity_type: entity_type, AuditLogEntry.entity_id: entity_id}
    for column, value in conditions.items():
        if value is not None:
            statement = statement.where(column == value)
    if since is not None:
        statement = statement.where(AuditLogEntry.at >= since)
    if until is not None:
        statement = statement.where(AuditLogEntry.at < until)
    if not include_requests:
        statement = statement.where(AuditLogEntry.action != REQUEST_ACTION)
    ordered = statement.order_by(col(AuditLogEntry.at).desc(), col(AuditLogEntry.id))
    return session.exec(ordered.limit(limit)).all()
