"""Everything despacho holds about a person, as one JSON-ready document (LGPD art. 18 II, V).

The sections follow the tables; each row is given whole, as stored, so the subject sees
exactly what is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from store.models import Customer
from store.models.base import Record
from store.privacy.footprint import Footprint, find_footprint
from store.types import utcnow

SECTIONS = ("service_orders", "appointments", "invoices", "payments", "notifications",
            "whatsapp_conversations", "whatsapp_messages", "events", "rule_runs", "rule_steps",
            "dead_letters",
            "calendar_links", "accounting_records", "accounting_audit", "audit_log", "privacy_requests",
            "consent_records", "suppressions")


def export_subject(session: Session, customer: Customer, *, now: datetime | None = None) -> dict[str, Any]:
    footprint = find_footprint(session, customer)
    return document(footprint, now or utcnow())


def document(footprint: Footprint, at: datetime) -> dict[str, Any]:
    rows: dict[str, Sequence[Record]] = {
        "service_orders": footprint.orders, "appointments": footprint.appointments,
        "invoices": footprint.invoices, "payments": footprint.payments,
        "notifications": footprint.notifications, "whatsapp_conversations": footprint.conversations,
        "whatsapp_messages": footprint.whatsapp_messages, "events": footprint.events,
        "rule_runs": footprint.runs, "rule_steps": footprint.steps, "dead_letters": footprint.dead_letters,
        "calendar_links": footprint.calendar_links, "accounting_records": footprint.accounting_records,
        "accounting_audit": footprint.accounting_audit, "audit_log": footprint.audit,
        "privacy_requests": footprint.requests,
        "consent_records": footprint.consents, "suppressions": footprint.suppressions,
    }
    body: dict[str, Any] = {"generated_at": at.isoformat(), "customer": as_json(footprint.customer)}
    body.update({name: [as_json(row) for row in rows[name]] for name in SECTIONS})
    return body


def as_json(record: Record) -> dict[str, Any]:
    return record.model_dump(mode="json")
