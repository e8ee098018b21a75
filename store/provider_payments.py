"""What a payment provider or ERP reports, applied to our invoices once and in any order.

Asaas's webhooks and the polls of systems without webhooks (Omie, Conta Azul) all end up
here. They deliver at least once and out of order, so every function here is idempotent
and checks the invoice's state under a row lock: a payment is recorded once per the
system's payment id (``Payment.external_ids[system]``; our own settlement pushed there
and seen again is found the same way), an overdue notice never reopens a paid invoice, a
refund applies once (it marks the payment). What cannot be taken (no invoice of ours, a
closed invoice, an amount refused) is audited as a conflict for a person to look at,
never dropped silently.

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
from typing import Any, Protocol

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from store.accounting_sync import AuditContext, add_audit, ensure_record, mark_synced
from store.billing import invoice_payload, record_payment
from store.errors import ValidationFailed
from store.eventlog import insert_event, record_event
from store.models import Invoice, Payment
from store.models.accounting import AccountingSyncRecord, AccountingWebhookReceipt
from store.models.billing import PAYMENT_METHODS, UNPAID_INVOICE_STATUSES
from store.payloads import record_data
from store.types import utcnow

log = logging.getLogger("despacho.store.provider_payments")


class Applied(StrEnum):
    RECORDED = "recorded"  # the change was made and its event recorded
    KNOWN = "known"  # already applied (a redelivery, or RECEIVED then CONFIRMED)
    CLOSED = "closed"  # the invoice's state rules it out (overdue on a paid invoice)
    UNKNOWN_INVOICE = "unknown_invoice"  # no invoice of ours has that reference
    REFUSED = "refused"  # the payment itself was refused (``record_payment``'s checks): audited


class RemotePayment(Protocol):
    """``connectors.accounting.adapter.RemotePayment``, as the store sees it."""

    @property
    def external_id(self) -> str: ...
    @property
    def invoice_id(self) -> str | None: ...
    @property
    def invoice_external_id(self) -> str | None: ...
    @property
    def amount(self) -> Decimal: ...
    @property
    def method(self) -> str: ...
    @property
    def paid_at(self) -> datetime: ...


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


def take_payment(session: Session, system: str, payment: RemotePayment) -> Applied:
    """A payment the system received, recorded once: ``payment.received`` with ``source`` = system.

    The invoice is ours by id (the system's external reference or integration code), else by
    the system's id of it (our sync record). A late payment may include the provider's fine
    and interest: what exceeds the amount still due is not ours to book against the invoice,
    so the payment is capped at it and the system's full value kept in
    ``external_ids["<system>_value"]``. Every outcome but a redelivery is audited.
    """
    context = AuditContext(system=system, entity_type="payment", direction="pull")
    request = {"payment": payment.external_id, "invoice": payment.invoice_id,
               "invoice_external_id": payment.invoice_external_id, "amount": payment.amount}

    def conflict(outcome: Applied, error: str) -> Applied:
        add_audit(session, context, None, operation="take_payment", request=request, outcome="conflict",
                  error=error)
        return outcome

    invoice = _invoice_for(session, system, payment)
    if invoice is None:
        return conflict(Applied.UNKNOWN_INVOICE, "no invoice of ours matches this payment")
    if _payment_of(session, invoice, system, payment.external_id) is not None:
        return Applied.KNOWN
    if invoice.status not in UNPAID_INVOICE_STATUSES:
        log.warning("%s payment %s for invoice %s ignored: the invoice is %s", system, payment.external_id,
                    invoice.number, invoice.status)
        return conflict(Applied.CLOSED, f"invoice {invoice.number} is {invoice.status}")
    due = invoice.amount - invoice.amount_paid
    booked = min(payment.amount, due)
    if booked < payment.amount:
        log.warning("%s payment %s of %s exceeds the %s due on invoice %s: %s booked", system,
                    payment.external_id, payment.amount, due, invoice.number, booked)
    method = payment.method if payment.method in PAYMENT_METHODS else "transfer"
    external_ids = {system: payment.external_id, f"{system}_value": str(payment.amount)}
    try:  # record_payment checks everything before it adds anything: a refusal leaves nothing behind
        ours = record_payment(session, invoice.id, booked, method, paid_at=payment.paid_at, source=system,
                              external_ids=external_ids)
    except ValidationFailed as exc:
        return conflict(Applied.REFUSED, str(exc))
    record = ensure_record(session, system, "payment", ours.id, f"pull:{payment.external_id}")
    mark_synced(session, record, payment.external_id, {"amount": booked, "method": method,
                                                        "paid_at": payment.paid_at}, None)
    add_audit(session, AuditContext(system, "payment", ours.id, "pull"), record.id, operation="take_payment",
              request=request, response={"payment_id": ours.id, "invoice": invoice.number})
    return Applied.RECORDED


def _invoice_for(session: Session, system: str, payment: RemotePayment) -> Invoice | None:
    """Ours by id, else by the system's id of it (the sync record of our push); locked."""
    invoice_id = payment.invoice_id
    if not invoice_id and payment.invoice_external_id:
        invoice_id = session.exec(select(AccountingSyncRecord.entity_id).where(
            AccountingSyncRecord.system == system, AccountingSyncRecord.entity_type == "invoice",
            AccountingSyncRecord.external_id == payment.invoice_external_id)).first()
    return _locked_invoice(session, invoice_id)


def note_overdue(session: Session, system: str, invoice_id: str | None, at: datetime) -> Applied:
    """``invoice.overdue`` for an unpaid invoice, once per invoice and day (the daily job's event id)."""
    invoice = _locked_invoice(session, invoice_id)
    if invoice is None:
        return Applied.UNKNOWN_INVOICE
    if invoice.status not in UNPAID_INVOICE_STATUSES:
        return Applied.CLOSED  # out of order: the payment arrived first; a paid invoice stays paid
    payload = invoice_payload(session, invoice)
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
    payload = invoice_payload(session, invoice)
    payload["payment"] = record_data("payment", payment)
    payload["refund"] = {"amount": float(refunded), "refunded_at": refunded_at.isoformat(), "system": system,
                         "external_id": external_id}
    record_event(session, "payment.refunded", payload, occurred_at=refunded_at, source=system)
    return Applied.RECORDED

