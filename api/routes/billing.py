"""``/v1/invoices`` and ``/v1/payments``: issued and recorded through ``store.billing``."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from api.auth import requires
from api.crud import Cursor, DbSession, Limit, get_live, sort_type
from api.schemas.billing import InvoiceIn, InvoiceOut, PaymentIn, PaymentMethod, PaymentOut
from api.schemas.common import Id, Page
from store.billing import issue_invoice, record_payment
from store.listing import ListSpec, list_page
from store.models import Invoice, Payment
from store.models.billing import INVOICE_STATUSES

router = APIRouter(prefix="/v1", tags=["billing"])
INVOICES = ListSpec(Invoice, ("created_at", "due_date", "issued_at"), ("status", "order_id"), "-created_at",
                    (Invoice.deleted_at.is_(None),))
PAYMENTS = ListSpec(Payment, ("created_at", "paid_at"), ("invoice_id", "method"), "-paid_at")
InvoiceStatus = Literal[INVOICE_STATUSES]  # type: ignore[valid-type]

InvoiceSort = sort_type(INVOICES)
PaymentSort = sort_type(PAYMENTS)

@router.get("/invoices", response_model=Page[InvoiceOut])
def list_invoices(session: DbSession, principal: requires("billing:read"), limit: Limit = 50,
                  cursor: Cursor = None, sort: InvoiceSort = None, status: InvoiceStatus | None = None,
                  order_id: Id | None = None) -> Page[InvoiceOut]:
    page = list_page(session, INVOICES, sort=sort, limit=limit, cursor=cursor,
                     filters={"status": status, "order_id": order_id})
    return Page(items=[InvoiceOut.model_validate(i) for i in page.items], next_cursor=page.next_cursor)


@router.post("/invoices", status_code=201, response_model=InvoiceOut)
def post_invoice(session: DbSession, principal: requires("billing:write"), body: InvoiceIn) -> InvoiceOut:
    """Issue an invoice for an order; records ``invoice.issued``."""
    invoice = issue_invoice(session, body.order_id, body.amount, body.due_date, number=body.number,
                            external_ids=body.external_ids)
    return InvoiceOut.model_validate(invoice)


@router.get("/invoices/{invoice_id}", response_model=InvoiceOut)
def get_invoice(session: DbSession, principal: requires("billing:read"), invoice_id: str) -> InvoiceOut:
    return InvoiceOut.model_validate(get_live(session, Invoice, invoice_id))


@router.get("/payments", response_model=Page[PaymentOut])
def list_payments(session: DbSession, principal: requires("billing:read"), limit: Limit = 50,
                  cursor: Cursor = None, sort: PaymentSort = None, invoice_id: Id | None = None,
                  method: PaymentMethod | None = None) -> Page[PaymentOut]:
    page = list_page(session, PAYMENTS, sort=sort, limit=limit, cursor=cursor,
                     filters={"invoice_id": invoice_id, "method": method})
    return Page(items=[PaymentOut.model_validate(p) for p in page.items], next_cursor=page.next_cursor)


@router.post("/payments", status_code=201, response_model=PaymentOut)
def post_payment(session: DbSession, principal: requires("billing:write"), body: PaymentIn) -> PaymentOut:
    """Record a payment; records ``payment.received`` (and ``invoice.paid`` when settled)."""
    payment = record_payment(session, body.invoice_id, body.amount, body.method, paid_at=body.paid_at,
                             external_ids=body.external_ids)
    return PaymentOut.model_validate(payment)


@router.get("/payments/{payment_id}", response_model=PaymentOut)
def get_payment(session: DbSession, principal: requires("billing:read"), payment_id: str) -> PaymentOut:
    return PaymentOut.model_validate(get_live(session, Payment, payment_id))
