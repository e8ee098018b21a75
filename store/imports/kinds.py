"""What each kind of record takes from a row: its fields, how each is read, what it refers to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from store.imports.values import Convert, boolean, day, moment, money, text, text_list
from store.models import Appointment, Customer, Invoice, ServiceOrder, Technician

if TYPE_CHECKING:
    from store.imports.mapping import ImportMapping
    from store.models.base import Record


@dataclass(frozen=True)
class Reference:
    """A field naming a row of ``kind`` imported earlier from the same source, stored in ``attribute``."""

    kind: str
    attribute: str
    required: bool


@dataclass(frozen=True)
class KindSpec:
    model: type[Record]
    fields: dict[str, Convert]
    required: tuple[str, ...] = ()
    references: dict[str, Reference] = field(default_factory=dict)
    events: str | None = None  # the event the API records when it creates one


_WHEN = {"created_at": moment}

KINDS: dict[str, KindSpec] = {
    "customers": KindSpec(Customer, {
        "name": text, "email": text, "phone": text, "tax_id": text, "tier": text, "preferred_channel": text,
        "opt_outs": text_list, "time_zone": text, "address": text, "city": text, "state": text,
        "postal_code": text, **_WHEN}, required=("name",)),
    "technicians": KindSpec(Technician, {
        "name": text, "region": text, "phone": text, "email": text, "skills": text_list, "active": boolean,
        "time_zone": text, "google_calendar_id": text, **_WHEN}, required=("name", "region")),
    "orders": KindSpec(ServiceOrder, {
        "status": text, "priority": text, "description": text, "required_skills": text_list, "region": text,
        "address": text, "scheduled_start": moment, "scheduled_end": moment, "sla_due_at": moment,
        "amount": money, "completed_at": moment, "cancelled_at": moment, **_WHEN},
        required=("region",),
        references={"customer": Reference("customers", "customer_id", True),
                    "technician": Reference("technicians", "technician_id", False)},
        events="service_order.created"),
    "appointments": KindSpec(Appointment, {"starts_at": moment, "ends_at": moment, "status": text, **_WHEN},
                             required=("starts_at", "ends_at"),
                             references={"order": Reference("orders", "order_id", True),
                                         "technician": Reference("technicians", "technician_id", False)}),
    "invoices": KindSpec(Invoice, {
        "number": text, "amount": money, "amount_paid": money, "due_date": day, "status": text,
        "issued_at": moment, "paid_at": moment, **_WHEN},
        required=("number", "amount", "due_date"),
        references={"order": Reference("orders", "order_id", True)},
        events="invoice.issued"),
}


def check_mapping(mapping: ImportMapping) -> str | None:
    """Why the mapping cannot serve its kind (a field despacho does not have, a required one absent)."""
    assert mapping.kind is not None  # load_mapping sets it
    spec = KINDS[mapping.kind]
    for section, names, known in (("columns", mapping.columns, spec.fields),
                                  ("defaults", mapping.defaults, spec.fields),
                                  ("references", mapping.references, spec.references)):
        unknown = sorted(set(names) - set(known))
        if unknown:
            return (f"{section}: {', '.join(unknown)} is not a field of {mapping.kind} "
                    f"(known: {', '.join(sorted(known))})")
    given = set(mapping.columns) | set(mapping.defaults)
    missing = [name for name in spec.required if name not in given]
    missing += [name for name, ref in spec.references.items()
                if ref.required and name not in mapping.references]
    if missing:
        return f"{mapping.kind} need {', '.join(missing)}: map a column to it (or a default)"
    return None
