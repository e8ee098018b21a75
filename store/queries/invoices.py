"""``invoices.overdue``: unpaid invoices some days past due, with order and customer."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from store.models import Customer, Invoice, ServiceOrder
from store.models.billing import UNPAID_INVOICE_STATUSES
from store.payloads import columns, row_data
from store.queries.common import check_at, literal_in
from store.query_specs import OverdueInvoicesParams


def overdue_statement(at: datetime, days: int) -> sa.Select[Any]:
    """Served by ``ix_invoices_unpaid_due_date`` (partial: unpaid invoices only)."""
    cutoff = at.date() - timedelta(days=days)
    return (
        sa.select(*columns("invoice"), *columns("order"), *columns("customer"))
        .join(ServiceOrder, col(ServiceOrder.id) == col(Invoice.order_id))
        .join(Customer, col(Customer.id) == col(ServiceOrder.customer_id))
        .where(literal_in(col(Invoice.status), UNPAID_INVOICE_STATUSES), col(Invoice.due_date) <= cutoff,
               col(Invoice.deleted_at).is_(None))
        .order_by(col(Invoice.due_date), col(Invoice.id))
    )


def overdue_invoices(session: Session, at: datetime, params: OverdueInvoicesParams) -> list[dict[str, Any]]:
    """Days are counted on ``at``'s own calendar date: pass ``at`` in the company's time zone."""
    today = check_at(at).date()
    rows = []
    for row in session.execute(overdue_statement(at, params.days)).mappings():
        invoice = row_data("invoice", row)
        assert invoice is not None
        invoice["amount_due"] = round(invoice["amount"] - invoice["amount_paid"], 2)
        invoice["days_overdue"] = (today - row["invoice__due_date"]).days
        rows.append({"invoice": invoice, "order": row_data("order", row),
                     "customer": row_data("customer", row)})
    return rows
