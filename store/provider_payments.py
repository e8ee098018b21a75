"""What a payment provider reports (Asaas's webhooks), applied to our invoices once and in any order.

Providers deliver at least once and out of order, so every function here is idempotent
and checks the invoice's state under a row lock: a payment is recorded once per the
provider's payment id (``Payment.external_ids[system]``), an overdue notice never reopens
a paid invoice, a refund applies once (it marks the payment).

A refund cannot be a negative payment (``payments.amount > 0``), and deleting the payment
would erase that money came in. So the payment stays, marked with
``external_ids["<system>_refund"]`` (amount and time); the invoice's ``amount_paid`` drops
by the refunded amount and the invoice becomes ``refunded`` (neither unpaid —
no overdue notices, no new payments — nor paid: someone decides what comes next);
``payment.refunded`` tells the rules.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from store.billing import _payload, record_payment
from store.eventlog import insert_event, record_event
from store.models import Invoice, Payment
from store.models.accounting import AccountingWebhookReceipt
from store.models.billing import UNPAID_INVOICE_STATUSES
from store.payloads import record_data
from store.types import utcnow

log = logging.getLogger("despacho.store.provider_payments")


class Applied(StrEnum):
    RECORDED = "recorded"  # the change was made and its event recorded
    KNOWN = "known"  # already applied (a redelivery, or RECEIVED then CONFIRMED)
    CLOSED = "closed"  # the invoice's state rules it out (overdue on a paid invoice)
    UNKNOWN_INVOICE = "unknown_invoice"  # no invoice of ours has that reference


def take_receipt(session: Session, system: str, event_id: str, event_type: str) -> bool:
    """``True`` the first time a delivery's id is seen; two racing deliveries store one row."""
    row = {"system": system, "event_id": event_id, "event_type": event_type, "received_at": utcnow()}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table: Any = AccountingWebhookReceipt.__table__
    # RETURNING, not rowcount: through the ORM session psycopg reports 1 for a skipped row
    statement = insert(table).values(row).on_conflict_do_nothing().returning(table.c.event_id)
    return session.execute(statement).first() is not None


def _locked_invoice(session: Session, invoice_id: str | None) -> Invoice | None:
    if not invoice_id:
        return None
    statement = select(Invoice).where(Invoice.id == invoice_id, col(Invoice.deleted_at).is_(None))
    return session.exec(statement.with_for_update()).first()


def _payment_of(session: Session, invoice: Invoice, system: str, external_id: str) -> Payment | None:
    """An invoice has a handful of payments: compare in Python, the same on SQLite and PostgreSQL."""
    for payment in session.exec(select(Payment).where(Payment.invoice_id == invoice.id)):
        if str(payment.external_ids.get(system)) == external_id:
            return payment
    return None


def take_payment(session: Session, system: str, *, external_id: str, invoice_id: str | None,
                 amount: Decimal, method: str, paid_at: datetime) -> Applied:
    """A payment the provider received, recorded once: ``payment.received`` with ``source`` = system.

    A late payment may include the provider's fine and interest: what exceeds the amount
    still due is not ours to book against the invoice, so the payment is capped at it and
    the provider's full value kept in ``external_ids["<system>_value"]``.
    """
    invoice = _locked_invoice(session, invoice_id)
    if invoice is None:
        return Applied.UNKNOWN_INVOICE
    if _payment_of(session, invoice, system, external_id) is not None:
        return Applied.KNOWN
    if invoice.status not in UNPAID_INVOICE_STATUSES:
        log.warning("%s payment %s for invoice %s ignored: the invoice is %s", system, external_id,
                    invoice.number, invoice.status)
        return Applied.CLOSED
    due = invoice.amount - invoice.amount_paid
    booked = min(amount, due)
    if booked < amount:
        log.warning("%s payment %s of %s exceeds the %s due on invoice %s: %s booked", system, external_id,
                    amount, due, invoice.number, booked)
    record_payment(session, invoice.id, booked, method, paid_at=paid_at, source=system,
                   external_ids={system: external_id, f"{system}_value": str(amount)})
    return Applied.RECORDED


def note_overdue(session: Session, system: str, invoice_id: str | None, at: datetime) -> Applied:
    """``invoice.overdue`` for an unpaid invoice, once per invoice and day (the daily job's event id)."""
    invoice = _locked_invoice(session, invoice_id)
    if invoice is None:
        return Applied.UNKNOWN_INVOICE
    if invoice.status not in UNPAID_INVOICE_STATUSES:
        return Applied.CLOSED  # out of order: the payment arrived first; a paid invoice stays paid
    payload = _payload(session, invoice)
    data = payload["invoice"]
    data["amount_due"] = float(invoice.amount - invoice.amount_paid)
    data["days_overdue"] = max((at.date() - invoice.due_date).days, 0)
    event_id = f"invoice.overdue:{invoice.id}:{at.date().isoformat()}"
    new = insert_event(session, event_id, "invoice.overdue", payload, occurred_at=at, source=system)
    return Applied.RECORDED if new else Applied.KNOWN


def take_refund(session: Session, system: str, *, external_id: str, invoice_id: str | None,
                amount: Decimal | None, refunded_at: datetime) -> Applied:
    """The provider refunded its payment ``external_id`` (all of it when ``amount`` is None)."""
    invoice = _locked_invoice(session, invoice_id)
    if invoice is None:
        return Applied.UNKNOWN_INVOICE
    payment = _payment_of(session, invoice, system, external_id)
    if payment is None:
        return Applied.CLOSED  # caller records the payment first (a refund that overtook it)
    marker = f"{system}_refund"
    if marker in payment.external_ids:
        return Applied.KNOWN
    refunded = min(amount if amount is not None else payment.amount, payment.amount)
    payment.external_ids = {**payment.external_ids,
                            marker: {"amount": str(refunded), "at": refunded_at.isoformat()}}
    invoice.amount_paid = max(invoice.amount_paid - refunded, Decimal("0.00"))
    invoice.status = "refunded"  # even a partial one: no dunning after money was given back
    invoice.paid_at = None
    session.flush()
    payload = _payload(session, invoice)
    payload["payment"] = record_data("payment", payment)
    payload["refund"] = {"amount": float(refunded), "refunded_at": refunded_at.isoformat(), "system": system,
                         "external_id": external_id}
    record_event(session, "payment.refunded", payload, occurred_at=refunded_at, source=system)
    return Applied.RECORDED

