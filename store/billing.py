"""Invoices and payments; each operation records its event in the caller's transaction."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Session, select

from store.errors import ValidationFailed
from store.eventlog import insert_event, record_event
from store.models import Customer, Invoice, Payment, ServiceOrder
from store.models.billing import UNPAID_INVOICE_STATUSES
from store.payloads import record_data
from store.queries.invoices import overdue_invoices
from store.query_specs import OverdueInvoicesParams
from store.types import utcnow
from store.validation import normalize_amount


def issue_invoice(session: Session, order_id: str, amount: Any, due_date: date, *,
                  number: str | None = None, external_ids: dict[str, Any] | None = None,
                  at: datetime | None = None) -> Invoice:
    """A new invoice for an order; records ``invoice.issued``."""
    order = session.get(ServiceOrder, order_id) if order_id else None
    if order is None:
        raise ValidationFailed("invoice.order_id", f"no service_order with id '{order_id}'")
    at = at or utcnow()
    invoice = Invoice(order_id=order_id, amount=amount, due_date=due_date, issued_at=at,
                      number="", external_ids=external_ids or {}, created_at=at, updated_at=at)
    invoice.number = number or f"FAT-{at:%Y%m}-{invoice.id[:8].upper()}"
    session.add(invoice)
    session.flush()
    record_event(session, "invoice.issued", invoice_payload(session, invoice), occurred_at=at)
    return invoice


def record_payment(session: Session, invoice_id: str, amount: Any, method: str, *,
                   paid_at: datetime | None = None,
                   external_ids: dict[str, Any] | None = None) -> Payment:
    """A payment towards an invoice; records ``payment.received`` (and ``invoice.paid`` when settled)."""
    invoice = session.exec(select(Invoice).where(Invoice.id == invoice_id).with_for_update()).first()
    if invoice is None:
        raise ValidationFailed("payment.invoice_id", f"no invoice with id '{invoice_id}'")
    if invoice.status not in UNPAID_INVOICE_STATUSES:
        raise ValidationFailed("payment.invoice_id", f"invoice '{invoice.number}' is {invoice.status}")
    value = normalize_amount("payment.amount", amount)
    if value is None or value <= 0:
        raise ValidationFailed("payment.amount", "must be more than zero")
    due = invoice.amount - invoice.amount_paid
    if value > due:
        raise ValidationFailed("payment.amount", f"{value} is more than the {due} still due")
    paid_at = paid_at or utcnow()
    payment = Payment(invoice_id=invoice.id, amount=value, method=method, paid_at=paid_at,
                      external_ids=external_ids or {}, created_at=paid_at)
    session.add(payment)
    invoice.amount_paid = invoice.amount_paid + value
    settled = invoice.amount_paid == invoice.amount
    invoice.status = "paid" if settled else "partially_paid"
    invoice.paid_at = paid_at if settled else None
    session.flush()
    payload = invoice_payload(session, invoice)
    payload["payment"] = record_data("payment", payment)
    record_event(session, "payment.received", payload, occurred_at=paid_at)
    if settled:
        record_event(session, "invoice.paid", payload, occurred_at=paid_at)
    return payment


def record_overdue_events(session: Session, at: datetime, days: int = 1) -> int:
    """Record ``invoice.overdue`` once per invoice and day (the daily job); returns how many were new.

    The event id is ``invoice.overdue:<invoice>:<date>``, so running the job
    twice on a day records nothing the second time.
    """
    new = 0
    for row in overdue_invoices(session, at, OverdueInvoicesParams(days=days)):
        event_id = f"invoice.overdue:{row['invoice']['id']}:{at.date().isoformat()}"
        new += insert_event(session, event_id, "invoice.overdue", row, occurred_at=at,
                            source="despacho")
    return new


def invoice_payload(session: Session, invoice: Invoice) -> dict[str, Any]:
    order = session.get(ServiceOrder, invoice.order_id)
    customer = session.get(Customer, order.customer_id) if order else None
    return {"invoice": record_data("invoice", invoice), "order": record_data("order", order),
            "customer": record_data("customer", customer)}

