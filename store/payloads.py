"""The JSON-friendly shape of records, as events and named queries hand them to templates.

One field list per kind of record serves both ORM objects (event payloads)
and query rows (named queries), so a template sees the same keys wherever
its data came from: string ids, ISO timestamps, float amounts.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from store.models import Appointment, Customer, Invoice, Payment, ServiceOrder, Technician

FIELDS: dict[str, tuple[type, tuple[str, ...]]] = {
    "customer": (Customer, ("id", "name", "email", "phone", "tier", "preferred_channel",
                            "opt_outs", "time_zone", "address", "city", "state")),
    "technician": (Technician, ("id", "name", "phone", "email", "region", "skills",
                                "google_calendar_id", "time_zone")),
    "order": (ServiceOrder, ("id", "status", "priority", "description", "region", "address",
                             "required_skills", "scheduled_start", "scheduled_end", "sla_due_at",
                             "amount", "customer_id", "technician_id", "created_at")),
    "appointment": (Appointment, ("id", "order_id", "technician_id", "starts_at", "ends_at",
                                  "status")),
    "invoice": (Invoice, ("id", "number", "order_id", "amount", "amount_paid", "due_date",
                          "status", "issued_at", "external_ids")),
    "payment": (Payment, ("id", "invoice_id", "amount", "method", "paid_at", "external_ids")),
}


def to_json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def record_data(kind: str, record: Any | None) -> dict[str, Any] | None:
    """An ORM object as a dict (``None`` stays ``None``: an order may have no technician)."""
    if record is None:
        return None
    return {name: to_json(getattr(record, name)) for name in FIELDS[kind][1]}


def columns(kind: str) -> list[sa.ColumnElement[Any]]:
    """The columns of ``kind``, labelled ``kind__field`` for ``row_data``."""
    model, names = FIELDS[kind]
    return [getattr(model, name).label(f"{kind}__{name}") for name in names]


def row_data(kind: str, row: Mapping[Any, Any]) -> dict[str, Any] | None:
    """The ``kind`` part of a query row; ``None`` when an outer join found nothing."""
    names = FIELDS[kind][1]
    if row[f"{kind}__id"] is None:
        return None
    return {name: to_json(row[f"{kind}__{name}"]) for name in names}
