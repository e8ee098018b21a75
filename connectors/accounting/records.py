"""Our rows as the records an adapter sends: checked, in BRL ``Decimal``, due dates on banking days.

A customer without a valid CPF/CNPJ cannot be billed by any Brazilian provider or ERP: that is a
permanent error naming the customer and the field, raised before anything leaves the house.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from connectors.accounting.adapter import CustomerRecord, InvoiceRecord, PaymentRecord
from connectors.accounting.banking_days import next_banking_day
from connectors.accounting.money import brl
from errors import PermanentError

if TYPE_CHECKING:
    from sqlmodel import Session

# billing types whose due date never reaches a bank (a PIX or card charge may fall due on a Sunday)
_NO_BANK_DUE_DATE = ("PIX", "CREDIT_CARD")


def customer_record(session: Session, customer_id: str) -> CustomerRecord:
    from store.models import Customer
    from store.tax_ids import is_valid_tax_id

    customer = session.get(Customer, customer_id)
    if customer is None or customer.deleted_at is not None:
        raise PermanentError(f"no customer with id '{customer_id}'", code="not_found")
    if not customer.tax_id or not is_valid_tax_id(customer.tax_id):
        raise PermanentError(f"customer '{customer.name}' ({customer.id}) has no valid tax_id (CPF or CNPJ): "
                             "set customers.tax_id before billing them", code="missing_tax_id")
    return CustomerRecord(id=customer.id, name=customer.name, tax_id=customer.tax_id, email=customer.email,
                          phone=customer.phone, address=customer.address, city=customer.city,
                          state=customer.state, postal_code=customer.postal_code)


def invoice_rows(session: Session, invoice_id: str) -> tuple[Any, Any]:
    """The invoice and its service order (a permanent error when either is missing)."""
    from store.models import Invoice, ServiceOrder

    invoice = session.get(Invoice, invoice_id)
    if invoice is None or invoice.deleted_at is not None:
        raise PermanentError(f"no invoice with id '{invoice_id}'", code="not_found")
    order = session.get(ServiceOrder, invoice.order_id)
    if order is None:
        raise PermanentError(f"invoice '{invoice.number}' has no service order", code="not_found")
    return invoice, order


def invoice_record(session: Session, invoice_id: str, *, boleto: bool) -> InvoiceRecord:
    invoice, order = invoice_rows(session, invoice_id)
    customer = customer_record(session, order.customer_id)
    due = due_date_for(invoice.due_date, boleto=boleto)
    description = (order.description or f"Ordem de serviço {order.id[:8]}")[:500]
    return InvoiceRecord(id=invoice.id, number=invoice.number, customer=customer, amount=brl(invoice.amount),
                         due_date=due, description=description, order_id=order.id, status=invoice.status)


def payment_record(session: Session, payment_id: str) -> PaymentRecord:
    from store.models import Payment

    payment = session.get(Payment, payment_id)
    if payment is None:
        raise PermanentError(f"no payment with id '{payment_id}'", code="not_found")
    return PaymentRecord(id=payment.id, invoice_id=payment.invoice_id, amount=brl(payment.amount),
                         method=payment.method, paid_at=payment.paid_at)


def due_date_for(due: date, *, boleto: bool) -> date:
    """A boleto cannot fall due when banks are closed: rolled to the next banking day."""
    return next_banking_day(due) if boleto else due


def pays_by_boleto(system: str, billing_type: str) -> bool:
    """Whether the charge may be a boleto: Asaas unless it is PIX or card only; an ERP's receivable always."""
    return system != "asaas" or billing_type not in _NO_BANK_DUE_DATE
