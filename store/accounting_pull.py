"""Payments registered in an accounting system (webhook or poll) become ours exactly once.

The system's payment id is the dedupe key: a payment whose ``external_ids[system]`` already holds
it was taken before (or is the settlement we pushed there ourselves), so a webhook delivered
twice, or a poll overlapping the previous one, records nothing new. The invoice is locked first
(``record_payment`` locks it too), so two deliveries racing each other take turns and the second
finds the first. What cannot be taken (unknown invoice, more than is due) is audited as a
conflict for a person to look at, never dropped silently.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol

from sqlmodel import Session, select

from store.accounting_sync import AuditContext, add_audit, ensure_record, mark_synced
from store.billing import record_payment
from store.errors import ValidationFailed
from store.models import Invoice, Payment
from store.models.accounting import AccountingSyncRecord
from store.models.billing import PAYMENT_METHODS

Taken = Literal["taken", "duplicate", "unknown_invoice", "refused"]


class PulledPayment(Protocol):
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


def take_remote_payment(session: Session, system: str, payment: PulledPayment) -> Taken:
    """Record the system's payment as ours once, with ``payment.received`` whose source is ``system``."""
    context = AuditContext(system=system, entity_type="payment", direction="pull")
    request = {"payment": payment.external_id, "invoice": payment.invoice_id,
               "invoice_external_id": payment.invoice_external_id, "amount": payment.amount}
    invoice = _invoice_for(session, system, payment)
    if invoice is None:
        add_audit(session, context, None, operation="take_payment", request=request, outcome="conflict",
                  error="no invoice of ours matches this payment")
        return "unknown_invoice"
    if _known_payment(session, system, payment.external_id, invoice.id):
        return "duplicate"
    method = payment.method if payment.method in PAYMENT_METHODS else "transfer"
    try:  # record_payment checks everything before it adds anything: a refusal leaves nothing behind
        ours = record_payment(session, invoice.id, payment.amount, method, paid_at=payment.paid_at,
                              external_ids={system: payment.external_id}, source=system)
    except ValidationFailed as exc:
        add_audit(session, context, None, operation="take_payment", request=request, outcome="conflict",
                  error=str(exc))
        return "refused"
    record = ensure_record(session, system, "payment", ours.id, f"pull:{payment.external_id}")
    mark_synced(session, record, payment.external_id, {"amount": payment.amount, "method": method,
                                                        "paid_at": payment.paid_at}, None)
    add_audit(session, AuditContext(system, "payment", ours.id, "pull"), record.id, operation="take_payment",
              request=request, response={"payment_id": ours.id, "invoice": invoice.number})
    return "taken"


def _invoice_for(session: Session, system: str, payment: PulledPayment) -> Invoice | None:
    """Ours by id (from the system's external reference), else by the system's id of it; locked."""
    invoice_id = payment.invoice_id
    if not invoice_id and payment.invoice_external_id:
        invoice_id = session.exec(select(AccountingSyncRecord.entity_id).where(
            AccountingSyncRecord.system == system, AccountingSyncRecord.entity_type == "invoice",
            AccountingSyncRecord.external_id == payment.invoice_external_id)).first()
    if not invoice_id:
        return None
    return session.exec(select(Invoice).where(Invoice.id == invoice_id).with_for_update()).first()


def _known_payment(session: Session, system: str, external_id: str, invoice_id: str) -> bool:
    # an invoice has a handful of payments: reading them beats a JSON index per dialect
    payments = session.exec(select(Payment).where(Payment.invoice_id == invoice_id))
    return any(str(p.external_ids.get(system, "")) == external_id for p in payments)
