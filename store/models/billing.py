"""Invoices and payments."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import Field

from store.models.base import Normalizer, Record, timestamp
from store.types import MONEY, new_id
from store.validation import check_choice, check_required, normalize_amount

# refunded: the provider gave money back (store.provider_payments); no longer dunned, not paid
INVOICE_STATUSES = ("issued", "partially_paid", "paid", "cancelled", "refunded")
UNPAID_INVOICE_STATUSES = ("issued", "partially_paid")
PAYMENT_METHODS = ("pix", "boleto", "credit_card", "debit_card", "cash", "transfer")


class Invoice(Record, table=True):
    """An invoice for a service order.

    ``amount_paid`` is kept by ``store.billing.record_payment`` in the same
    transaction as the payment, so the overdue query needs no aggregate.
    ``external_ids`` maps an accounting system to its id (``{"omie": "123"}``).

    Indexes: partial ``due_date WHERE status IN ('issued', 'partially_paid')``
    for ``invoices.overdue`` (paid history never enters the index);
    ``order_id``; ``number`` unique; ``issued_at`` for the dashboard's amount
    invoiced over a period.
    """

    __tablename__ = "invoices"
    __table_args__ = (
        sa.Index("ix_invoices_unpaid_due_date", "due_date",
                 postgresql_where=sa.text("status IN ('issued', 'partially_paid')"),
                 sqlite_where=sa.text("status IN ('issued', 'partially_paid')")),
        sa.CheckConstraint("amount >= 0", name="amount_not_negative"),
        sa.CheckConstraint("amount_paid >= 0", name="amount_paid_not_negative"),
    )
    entity: ClassVar[str] = "invoice"
    normalizers: ClassVar[dict[str, Normalizer]] = {
        "order_id": check_required,
        "due_date": check_required,
        "amount": normalize_amount,
        "amount_paid": normalize_amount,
        "status": partial(check_choice, choices=INVOICE_STATUSES),
    }

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    number: str = Field(max_length=40, unique=True)
    order_id: str = Field(foreign_key="service_orders.id", index=True, max_length=36)
    amount: Decimal = Field(sa_type=MONEY, nullable=False)
    amount_paid: Decimal = Field(default=Decimal("0.00"), sa_type=MONEY, nullable=False)
    due_date: date
    status: str = Field(default="issued", max_length=20)
    issued_at: datetime = timestamp(default_now=True, index=True)
    paid_at: datetime | None = timestamp()
    external_ids: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    created_at: datetime = timestamp(default_now=True)
    updated_at: datetime = timestamp(default_now=True, onupdate=True)
    deleted_at: datetime | None = timestamp()


class Payment(Record, table=True):
    """A payment towards an invoice.

    Indexes: ``invoice_id`` (an invoice's payments); ``paid_at`` for the
    dashboard's cash-in by day.
    """

    __tablename__ = "payments"
    __table_args__ = (sa.CheckConstraint("amount > 0", name="amount_positive"),)
    entity: ClassVar[str] = "payment"
    normalizers: ClassVar[dict[str, Normalizer]] = {
        "invoice_id": check_required,
        "amount": normalize_amount,
        "method": partial(check_choice, choices=PAYMENT_METHODS),
    }

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    invoice_id: str = Field(foreign_key="invoices.id", index=True, max_length=36)
    amount: Decimal = Field(sa_type=MONEY, nullable=False)
    method: str = Field(max_length=20)
    paid_at: datetime = timestamp(nullable=False, index=True)
    external_ids: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    created_at: datetime = timestamp(default_now=True)
