"""A month of invoices and payments for an accountant who uses no accounting system of ours.

Only the gathering lives here (the file formats are in ``commands/export_files.py``): invoices
issued in the month and payments received in it, the month taken in the company's time zone,
amounts as ``Decimal`` to the centavo. Deleted invoices are left out; cancelled ones stay (the
accountant must see them) with their status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from store.errors import StoreError

if TYPE_CHECKING:
    from sqlmodel import Session

MONTH = re.compile(r"^(?P<year>\d{4})-(?P<month>0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class InvoiceLine:
    number: str
    customer: str
    tax_id: str | None
    issue_date: date
    due_date: date
    amount: Decimal
    paid: Decimal
    status: str


@dataclass(frozen=True)
class PaymentLine:
    invoice_number: str
    customer: str
    tax_id: str | None
    paid_on: date
    amount: Decimal
    method: str


@dataclass(frozen=True)
class MonthExport:
    month: str
    invoices: list[InvoiceLine]
    payments: list[PaymentLine]


class BadMonth(StoreError):
    def __init__(self, text: str) -> None:
        super().__init__(f"--month must be YYYY-MM (e.g. 2026-11), not {text[:20]!r}")


def month_bounds(month: str, timezone: str) -> tuple[datetime, datetime]:
    """The first instant of the month and of the next, in the company's time zone."""
    match = MONTH.fullmatch(month or "")
    if match is None:
        raise BadMonth(month or "")
    year, number = int(match["year"]), int(match["month"])
    zone = ZoneInfo(timezone)
    start = datetime.combine(date(year, number, 1), time(), zone)
    following = date(year + number // 12, number % 12 + 1, 1)
    return start, datetime.combine(following, time(), zone)


def month_export(session: Session, month: str, timezone: str) -> MonthExport:
    from sqlmodel import col, select

    from store.models import Customer, Invoice, Payment, ServiceOrder

    start, end = month_bounds(month, timezone)
    zone = ZoneInfo(timezone)
    invoices = session.exec(
        select(Invoice, Customer).join(ServiceOrder, col(ServiceOrder.id) == col(Invoice.order_id))
        .join(Customer, col(Customer.id) == col(ServiceOrder.customer_id))
        .where(col(Invoice.issued_at) >= start, col(Invoice.issued_at) < end,
               col(Invoice.deleted_at).is_(None))
        .order_by(col(Invoice.issued_at), col(Invoice.number))).all()
    payments = session.exec(
        select(Payment, Invoice, Customer).join(Invoice, col(Invoice.id) == col(Payment.invoice_id))
        .join(ServiceOrder, col(ServiceOrder.id) == col(Invoice.order_id))
        .join(Customer, col(Customer.id) == col(ServiceOrder.customer_id))
        .where(col(Payment.paid_at) >= start, col(Payment.paid_at) < end)
        .order_by(col(Payment.paid_at), col(Payment.id))).all()
    return MonthExport(month, [
        InvoiceLine(i.number, c.name, c.tax_id, i.issued_at.astimezone(zone).date(), i.due_date,
                    Decimal(i.amount), Decimal(i.amount_paid), i.status) for i, c in invoices
    ], [
        PaymentLine(i.number, c.name, c.tax_id, p.paid_at.astimezone(zone).date(), Decimal(p.amount),
                    p.method) for p, i, c in payments
    ])
