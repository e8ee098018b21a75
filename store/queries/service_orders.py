"""``service_orders.sla_at_risk``, ``service_orders.unassigned`` and ``service_orders.open_for_customer``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from store.durations import parse_duration
from store.errors import ValidationFailed
from store.lifecycle import TERMINAL_STATUSES
from store.models import Customer, ServiceOrder, Technician
from store.payloads import columns, row_data
from store.queries.common import check_at, literal_not_in
from store.query_specs import MAX_ROWS, OpenForCustomerParams, SlaAtRiskParams, UnassignedParams


def _with_people(*conditions: sa.ColumnElement[bool]) -> sa.Select[Any]:
    return (
        sa.select(*columns("order"), *columns("customer"), *columns("technician"))
        .join(Customer, col(Customer.id) == col(ServiceOrder.customer_id))
        .outerjoin(Technician, col(Technician.id) == col(ServiceOrder.technician_id))
        .where(col(ServiceOrder.deleted_at).is_(None), *conditions)
    )


def sla_at_risk(session: Session, at: datetime, params: SlaAtRiskParams) -> list[dict[str, Any]]:
    """Live orders whose SLA ends within ``hours`` (served by ``ix_service_orders_sla_due_at``).

    Orders already past their SLA are included only with ``include_breached``,
    so a rule that warns before the breach does not fire again after it.
    """
    check_at(at)
    window_end = at + timedelta(hours=params.hours)
    lower = [] if params.include_breached else [col(ServiceOrder.sla_due_at) >= at]
    statement = _with_people(
        literal_not_in(col(ServiceOrder.status), TERMINAL_STATUSES),
        col(ServiceOrder.sla_due_at) < window_end, col(ServiceOrder.sla_due_at).is_not(None), *lower,
    ).order_by(col(ServiceOrder.sla_due_at), col(ServiceOrder.id))
    rows = []
    for row in session.execute(statement).mappings():
        order = row_data("order", row)
        assert order is not None
        order["hours_left"] = round((row["order__sla_due_at"] - at).total_seconds() / 3600, 2)
        rows.append({"order": order, "customer": row_data("customer", row),
                     "technician": row_data("technician", row)})
    return rows


def unassigned(session: Session, at: datetime, params: UnassignedParams) -> list[dict[str, Any]]:
    """Open orders without a technician created at least ``older_than`` ago.

    Served by the partial ``ix_service_orders_unassigned_created_at``.
    """
    check_at(at)
    try:
        age = parse_duration(params.older_than)
    except ValueError as exc:
        raise ValidationFailed("older_than", str(exc)) from exc
    statement = _with_people(
        col(ServiceOrder.technician_id).is_(None), col(ServiceOrder.status) == "open",
        col(ServiceOrder.created_at) <= at - age,
    ).order_by(col(ServiceOrder.created_at), col(ServiceOrder.id))
    rows = []
    for row in session.execute(statement).mappings():
        order = row_data("order", row)
        assert order is not None
        order["waiting_hours"] = round((at - row["order__created_at"]).total_seconds() / 3600, 2)
        rows.append({"order": order, "customer": row_data("customer", row)})
    return rows


def open_for_customer(session: Session, at: datetime, params: OpenForCustomerParams) -> list[dict[str, Any]]:
    """The customer's live orders (not completed, cancelled or deleted), oldest first; at most
    ``MAX_ROWS + 1`` rows are read. Served by the index on ``customer_id``."""
    check_at(at)
    statement = _with_people(
        col(ServiceOrder.customer_id) == params.customer_id,
        literal_not_in(col(ServiceOrder.status), TERMINAL_STATUSES),
    ).order_by(col(ServiceOrder.created_at), col(ServiceOrder.id)).limit(MAX_ROWS + 1)
    rows = []
    for row in session.execute(statement).mappings():
        order = row_data("order", row)
        assert order is not None
        order["age_days"] = (at - row["order__created_at"]).days
        rows.append({"order": order, "customer": row_data("customer", row),
                     "technician": row_data("technician", row)})
    return rows
