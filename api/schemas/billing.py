"""Invoices and payments on the wire."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import AwareDatetime, Field

from api.schemas.common import Amount, Id, Input, Output, text
from store.models.billing import PAYMENT_METHODS

PaymentMethod = Literal[PAYMENT_METHODS]  # type: ignore[valid-type]
ExternalIds = dict[text(50, 1), text(100)]  # type: ignore[valid-type]


class InvoiceIn(Input):
    order_id: Id
    amount: Amount
    due_date: date = Field(ge=date(2000, 1, 1), le=date(2999, 12, 31))
    number: text(40, 1) | None = Field(None, description="Default: FAT-YYYYMM-XXXXXXXX")  # type: ignore[valid-type]
    external_ids: ExternalIds = Field(default_factory=dict, max_length=20)


class InvoiceOut(Output):
    id: str
    number: str
    order_id: str
    amount: Decimal
    amount_paid: Decimal
    due_date: date
    status: str
    issued_at: datetime
    paid_at: datetime | None
    external_ids: dict[str, Any]


class PaymentIn(Input):
    invoice_id: Id
    amount: Amount = Field(gt=0)
    method: PaymentMethod
    paid_at: AwareDatetime | None = None
    external_ids: ExternalIds = Field(default_factory=dict, max_length=20)


class PaymentOut(Output):
    id: str
    invoice_id: str
    amount: Decimal
    method: str
    paid_at: datetime
    external_ids: dict[str, Any]
    created_at: datetime
