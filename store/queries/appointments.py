"""``appointments.starting_within``: live visits starting soon, with order, customer, technician."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from store.models import Appointment, Customer, ServiceOrder, Technician
from store.models.orders import ACTIVE_APPOINTMENT_STATUSES
from store.payloads import columns, row_data
from store.queries.common import check_at, literal_in
from store.query_specs import StartingWithinParams


def starting_within_statement(at: datetime, hours: float) -> sa.Select[Any]:
    """Served by ``ix_appointments_active_starts_at`` (partial: scheduled/confirmed visits)."""
    return (
        sa.select(*columns("appointment"), *columns("order"), *columns("customer"),
                  *columns("technician"))
        .join(ServiceOrder, col(ServiceOrder.id) == col(Appointment.order_id))
        .join(Customer, col(Customer.id) == col(ServiceOrder.customer_id))
        .outerjoin(Technician, col(Technician.id) == col(Appointment.technician_id))
        .where(literal_in(col(Appointment.status), ACTIVE_APPOINTMENT_STATUSES),
               col(Appointment.starts_at) >= at, col(Appointment.starts_at) < at + timedelta(hours=hours))
        .order_by(col(Appointment.starts_at), col(Appointment.id))
    )


def appointments_starting_within(session: Session, at: datetime,
                                 params: StartingWithinParams) -> list[dict[str, Any]]:
    check_at(at)
    rows = []
    for row in session.execute(starting_within_statement(at, params.hours)).mappings():
        appointment = row_data("appointment", row)
        assert appointment is not None
        appointment["minutes_until_start"] = int((row["appointment__starts_at"] - at).total_seconds() // 60)
        rows.append({"appointment": appointment, "order": row_data("order", row),
                     "customer": row_data("customer", row),
                     "technician": row_data("technician", row)})
    return rows
