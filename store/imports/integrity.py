"""After an import: how many records of each kind, which point at nothing live, which look duplicated."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import col, func, select

from store.models import Appointment, Customer, Invoice, ServiceOrder, Technician

if TYPE_CHECKING:
    from sqlmodel import Session

MAX_LISTED = 20


def integrity_report(session: Session) -> dict[str, Any]:
    """``counts`` per table, ``orphans`` (live records under deleted ones), ``duplicates`` by phone/CPF."""
    models: tuple[Any, ...] = (Customer, Technician, ServiceOrder, Appointment, Invoice)
    counts = {model.__tablename__: session.exec(select(func.count()).select_from(model)).one()
              for model in models}
    return {"counts": counts, "orphans": _orphans(session), "duplicates": _duplicates(session)}


def _orphans(session: Session) -> dict[str, list[str]]:
    """Live records whose customer or order was deleted (soft delete keeps the row)."""
    orders = select(ServiceOrder.id).join(Customer, col(Customer.id) == ServiceOrder.customer_id).where(
        col(ServiceOrder.deleted_at).is_(None), col(Customer.deleted_at).is_not(None))
    visits = select(Appointment.id).join(ServiceOrder, col(ServiceOrder.id) == Appointment.order_id).where(
        col(ServiceOrder.deleted_at).is_not(None))
    invoices = select(Invoice.id).join(ServiceOrder, col(ServiceOrder.id) == Invoice.order_id).where(
        col(ServiceOrder.deleted_at).is_not(None))
    return {name: list(session.exec(query.limit(MAX_LISTED)))
            for name, query in (("orders_of_deleted_customers", orders),
                                ("appointments_of_deleted_orders", visits),
                                ("invoices_of_deleted_orders", invoices))}


def _duplicates(session: Session) -> dict[str, list[dict[str, Any]]]:
    """Live customers sharing a phone or a CPF/CNPJ: the same person imported twice, or a typo."""
    found: dict[str, list[dict[str, Any]]] = {}
    for name, column in (("customers_by_phone", Customer.phone), ("customers_by_tax_id", Customer.tax_id)):
        live = (col(column).is_not(None), col(Customer.deleted_at).is_(None))
        query = (select(column, func.count()).where(*live).group_by(column).having(func.count() > 1)
                 .order_by(sa.desc(func.count())).limit(MAX_LISTED))
        found[name] = [{"value": value, "customers": count} for value, count in session.exec(query)]
    return found
