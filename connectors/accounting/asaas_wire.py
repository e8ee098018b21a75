"""Our records as Asaas's JSON and back: customers, charges, payments (no HTTP here).

The webhook (``api/webhooks/asaas.py``) reads payments with the same functions as the
adapter's polling, so a payment means the same thing whichever way it arrived.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from connectors.accounting.adapter import CustomerRecord, InvoiceRecord, RemotePayment, RemoteReceivable
from connectors.accounting.money import as_text, brl, wire
from connectors.accounting.settings import AsaasSettings
from errors import PermanentError

# Asaas's dates are calendar dates in Brazil; a payment on 2026-03-02 happened that day in São Paulo
ASAAS_ZONE = ZoneInfo("America/Sao_Paulo")
PAID_STATUSES = ("RECEIVED", "CONFIRMED", "RECEIVED_IN_CASH")
OPEN_STATUSES = ("PENDING", "OVERDUE")
REFUNDED_STATUSES = ("REFUNDED", "REFUND_REQUESTED", "REFUND_IN_PROGRESS")
METHODS = {"BOLETO": "boleto", "PIX": "pix", "CREDIT_CARD": "credit_card", "DEBIT_CARD": "debit_card",
           "TRANSFER": "transfer", "DEPOSIT": "transfer"}
DESCRIPTION_LIMIT = 500  # Asaas refuses longer charge descriptions
_BR_MOBILE = re.compile(r"^\+55(\d{10,11})$")


def customer_body(customer: CustomerRecord) -> dict[str, Any]:
    if not customer.tax_id:
        raise PermanentError(f"customer {customer.id} ({customer.name}) has no CPF/CNPJ (customers.tax_id); "
                             "Asaas needs one to charge", code="missing_tax_id")
    body: dict[str, Any] = {"name": customer.name[:100], "cpfCnpj": customer.tax_id,
                            "externalReference": customer.id}
    if customer.email:
        body["email"] = customer.email
    national = _BR_MOBILE.match(customer.phone or "")
    if national:
        body["mobilePhone"] = national[1]
    if customer.address:
        body["address"] = customer.address[:200]
    if customer.postal_code:
        body["postalCode"] = re.sub(r"\D", "", customer.postal_code)
    return body


def charge_body(invoice: InvoiceRecord, customer_external_id: str, settings: AsaasSettings) -> dict[str, Any]:
    amount = brl(invoice.amount)
    if amount <= 0:
        raise PermanentError(f"invoice {invoice.number} has no amount to charge ({amount})",
                             code="bad_amount")
    body: dict[str, Any] = {
        "customer": customer_external_id, "billingType": settings.billing_type, "value": wire(amount),
        "dueDate": invoice.due_date.isoformat(), "externalReference": invoice.id,
        "description": f"{invoice.number} — {invoice.description}"[:DESCRIPTION_LIMIT]}
    if settings.fine_percent:
        body["fine"] = {"value": float(settings.fine_percent), "type": "PERCENTAGE"}
    if settings.interest_percent:
        body["interest"] = {"value": float(settings.interest_percent)}
    return body


def charge_fields(charge: dict[str, Any]) -> dict[str, Any]:
    """What Asaas holds of the charge, in the terms of ``Remote.fields`` (amounts as text)."""
    return {"amount": as_text(brl(charge.get("value"))), "due_date": charge.get("dueDate"),
            "description": charge.get("description"), "status": charge.get("status"),
            "billing_type": charge.get("billingType")}


def paid_at(charge: dict[str, Any]) -> datetime:
    """The day Asaas says the customer paid (a card: the day it was confirmed)."""
    for name in ("clientPaymentDate", "paymentDate", "confirmedDate"):
        text = charge.get(name)
        if text:
            return datetime.combine(parse_date(str(text)), time(0), tzinfo=ASAAS_ZONE)
    raise PermanentError(f"Asaas charge {charge.get('id')} has no payment date", code="asaas_bad_payment")


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text[:10])
    except ValueError as exc:
        raise PermanentError(f"'{text[:20]}' is not a date", code="asaas_bad_payment") from exc


def method(charge: dict[str, Any]) -> str:
    if charge.get("status") == "RECEIVED_IN_CASH":
        return "cash"
    return METHODS.get(str(charge.get("billingType")), "transfer")


def remote_payment(charge: dict[str, Any]) -> RemotePayment:
    """A paid charge as the payment despacho records (once: its id is the dedupe key)."""
    reference = charge.get("externalReference")
    return RemotePayment(external_id=str(charge["id"]), invoice_id=str(reference) if reference else None,
                         invoice_external_id=str(charge["id"]), amount=brl(charge.get("value")),
                         method=method(charge), paid_at=paid_at(charge))


def remote_receivable(charge: dict[str, Any]) -> RemoteReceivable:
    reference = charge.get("externalReference")
    return RemoteReceivable(external_id=str(charge["id"]), invoice_id=str(reference) if reference else None,
                            amount=brl(charge.get("value")), due_date=parse_date(str(charge.get("dueDate"))),
                            status=str(charge.get("status")))


def refund_body(amount: Decimal | None) -> dict[str, Any]:
    return {} if amount is None else {"value": wire(amount)}
