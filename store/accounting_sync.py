"""The database side of accounting syncs: sync records, their audit trail, conflicts, external ids.

``connectors.accounting`` calls these; they know nothing of adapters or vendors. Values that
reach a JSON column go through ``jsonable`` (``Decimal`` as text to the centavo, dates as ISO)
and are bounded, so a vendor answering with megabytes cannot fill the audit table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from store.errors import NotFound
from store.models import Invoice, Payment
from store.models.accounting import (
    AccountingConflict,
    AccountingSyncAudit,
    AccountingSyncRecord,
)
from store.types import utcnow

MAX_TEXT = 500  # characters of one string kept in an audit summary
MAX_ITEMS = 50  # keys or list items kept per level
MAX_DEPTH = 5
MAX_ERROR = 2000


def jsonable(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON the audit can keep: money as text, dates ISO, everything bounded."""
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal("0.01")))
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + f"… ({len(value)} chars)"
    if depth >= MAX_DEPTH:
        return "…"
    if isinstance(value, dict):
        items = list(value.items())
        kept = {str(k)[:100]: jsonable(v, depth + 1) for k, v in items[:MAX_ITEMS]}
        if len(items) > MAX_ITEMS:
            kept["…"] = f"{len(items) - MAX_ITEMS} more keys"
        return kept
    if isinstance(value, list | tuple):
        kept_list = [jsonable(v, depth + 1) for v in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            kept_list.append(f"… {len(value) - MAX_ITEMS} more items")
        return kept_list
    return jsonable(str(value), depth)


@dataclass(frozen=True)
class AuditContext:
    """Who asked: the rule and step of the call (``None`` for commands and jobs)."""

    system: str
    entity_type: str | None = None
    entity_id: str | None = None
    direction: str = "push"
    rule_id: str | None = None
    step_id: str | None = None


def find_record(session: Session, system: str, entity_type: str,
                entity_id: str) -> AccountingSyncRecord | None:
    return session.exec(select(AccountingSyncRecord).where(
        AccountingSyncRecord.system == system, AccountingSyncRecord.entity_type == entity_type,
        AccountingSyncRecord.entity_id == entity_id)).first()


def ensure_record(session: Session, system: str, entity_type: str, entity_id: str,
                  key: str) -> AccountingSyncRecord:
    """The sync record of this entity in this system, created ``pending`` with ``key`` as its code.

    The first key stays the record's ``integration_code``: a later sync of the same invoice (another
    rule, a retry command) sends the same code, so the system finds what it already has.
    """
    record = find_record(session, system, entity_type, entity_id)
    if record is None:
        record = AccountingSyncRecord(system=system, entity_type=entity_type, entity_id=entity_id,
                                      integration_code=key[:100])
        session.add(record)
        session.flush()
    return record


def add_audit(session: Session, context: AuditContext, record_id: str | None, *, operation: str,
              request: Any = None, response: Any = None, status_code: int | None = None,
              diff: dict[str, Any] | None = None, outcome: str = "ok", error: str | None = None) -> None:
    session.add(AccountingSyncAudit(
        record_id=record_id, system=context.system, entity_type=context.entity_type,
        entity_id=context.entity_id, direction=context.direction, operation=operation[:50],
        request=jsonable(request) if request is not None else None,
        response=jsonable(response) if response is not None else None, status_code=status_code,
        diff=jsonable(diff) if diff else None, outcome=outcome,
        error=error[:MAX_ERROR] if error else None, rule_id=context.rule_id, step_id=context.step_id))


def mark_synced(session: Session, record: AccountingSyncRecord, external_id: str,
                fields: dict[str, Any], version: str | None) -> dict[str, Any]:
    """The record agrees with the system now; returns the diff against the last agreed values."""
    before = dict(record.synced_fields or {})
    after = jsonable(fields)
    if _owner_of(session, record, external_id[:100]) is None:
        record.external_id = external_id[:100]
    else:  # one id for two of our records (an Asaas charge is also its payment): the first keeps it
        after["external_id"] = external_id[:100]
    record.status = "synced"
    record.attempts += 1
    record.last_error = None
    record.synced_fields = after
    record.remote_version = version[:100] if version else None
    record.synced_at = utcnow()
    return {name: [before.get(name), value] for name, value in after.items() if before.get(name) != value}


def _owner_of(session: Session, record: AccountingSyncRecord, external_id: str) -> str | None:
    """Another record of the system already holding ``external_id`` (unique per system)."""
    with session.no_autoflush:
        return session.exec(select(AccountingSyncRecord.id).where(
            AccountingSyncRecord.system == record.system, AccountingSyncRecord.external_id == external_id,
            AccountingSyncRecord.id != record.id)).first()


def mark_failed(session: Session, record: AccountingSyncRecord, error: str) -> None:
    record.status = "failed"
    record.attempts += 1
    record.last_error = error[:MAX_ERROR]


def set_external_id(session: Session, entity_type: str, entity_id: str, system: str,
                    external_id: str) -> None:
    """``Invoice.external_ids[system]`` / ``Payment.external_ids[system]`` (a new dict: JSON columns
    notice assignment, not mutation)."""
    row: Invoice | Payment | None = None
    if entity_type == "invoice":
        row = session.get(Invoice, entity_id)
    elif entity_type == "payment":
        row = session.get(Payment, entity_id)
    if row is not None and row.external_ids.get(system) != external_id:
        row.external_ids = {**row.external_ids, system: external_id}


def add_conflict(session: Session, context: AuditContext, field: str, ours: Any, theirs: Any, owner: str,
                 kept: str) -> None:
    session.add(AccountingConflict(system=context.system, entity_type=context.entity_type or "",
                                   entity_id=context.entity_id or "", field=field[:50],
                                   ours=jsonable(ours), theirs=jsonable(theirs), owner=owner, kept=kept))


# --- reading, for ``despacho sync`` and the API -----------------------------------------------------

def list_records(session: Session, *, system: str | None = None, status: str | None = None,
                 entity: str | None = None, limit: int = 100) -> list[AccountingSyncRecord]:
    query = select(AccountingSyncRecord).where(col(AccountingSyncRecord.deleted_at).is_(None))
    if system:
        query = query.where(AccountingSyncRecord.system == system)
    if status:
        query = query.where(AccountingSyncRecord.status == status)
    if entity:
        query = query.where(AccountingSyncRecord.entity_type == entity)
    order = (col(AccountingSyncRecord.updated_at).desc(), col(AccountingSyncRecord.id))
    return list(session.exec(query.order_by(*order).limit(limit)))


def get_record(session: Session, record_id: str) -> AccountingSyncRecord:
    record = session.get(AccountingSyncRecord, record_id)
    if record is None or record.deleted_at is not None:
        raise NotFound("accounting_sync_record", record_id)
    return record


def trail(session: Session, record_id: str, limit: int = 200) -> list[AccountingSyncAudit]:
    """The record's exchanges, oldest first."""
    query = (select(AccountingSyncAudit).where(AccountingSyncAudit.record_id == record_id)
             .order_by(col(AccountingSyncAudit.at), col(AccountingSyncAudit.id)).limit(limit))
    return list(session.exec(query))


def conflicts_of(session: Session, record: AccountingSyncRecord) -> list[AccountingConflict]:
    query = select(AccountingConflict).where(
        AccountingConflict.system == record.system, AccountingConflict.entity_type == record.entity_type,
        AccountingConflict.entity_id == record.entity_id).order_by(col(AccountingConflict.detected_at))
    return list(session.exec(query))


def last_step_of(session: Session, record_id: str) -> str | None:
    """The step of the record's latest audited call made by a rule, if any."""
    query = (select(AccountingSyncAudit.step_id).where(AccountingSyncAudit.record_id == record_id,
                                                       col(AccountingSyncAudit.step_id).is_not(None))
             .order_by(col(AccountingSyncAudit.at).desc()).limit(1))
    return session.exec(query).first()


def summary(record: AccountingSyncRecord) -> dict[str, Any]:
    """A record as plain data (commands, API)."""
    data = record.model_dump(mode="json")
    return {name: data.get(name) for name in (
        "id", "system", "entity_type", "entity_id", "external_id", "integration_code", "status", "attempts",
        "last_error", "synced_fields", "remote_version", "synced_at", "created_at", "updated_at")}


def audit_summary(row: AccountingSyncAudit) -> dict[str, Any]:
    data = row.model_dump(mode="json")
    data["request"] = _short(row.request)
    data["response"] = _short(row.response)
    return data


def _short(value: Any, limit: int = 300) -> Any:
    if value is None:
        return None
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value if len(text) <= limit else text[:limit] + "…"


def count_by_status(session: Session) -> dict[str, int]:
    status = col(AccountingSyncRecord.status)
    rows = session.execute(sa.select(status, sa.func.count()).group_by(status))
    return {status: count for status, count in rows}
