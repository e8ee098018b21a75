"""``appointments.starting_within`` and ``appointments.of_day``: live visits with order, customer,
technician."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from store.models import Appointment, Customer, ServiceOrder, Technician
from store.models.orders import ACTIVE_APPOINTMENT_STATUSES
from store.payloads import columns, row_data
from store.queries.common import check_at, literal_in
from store.query_specs import DAY_WORDS, MAX_ROWS, OfDayParams, StartingWithinParams


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


def day_bounds(at: datetime, day: str) -> tuple[datetime, datetime]:
    """Midnight to midnight of ``day`` on ``at``'s own calendar (pass ``at`` in the company's zone)."""
    check_at(at)
    # a YYYY-MM-DD day was checked by OfDayParams
    chosen = at.date() + timedelta(days=DAY_WORDS.index(day)) if day in DAY_WORDS else date.fromisoformat(day)
    start = datetime.combine(chosen, time(0), tzinfo=at.tzinfo)
    return start, datetime.combine(chosen + timedelta(days=1), time(0), tzinfo=at.tzinfo)


def appointments_of_day(session: Session, at: datetime, params: OfDayParams) -> list[dict[str, Any]]:
    """Live visits starting on one day, by start time; served by ``ix_appointments_active_starts_at``
    (all technicians) or ``(technician_id, starts_at)`` (one). At most ``MAX_ROWS + 1`` rows are read:
    enough for the caller to tell that there were more."""
    start, end = day_bounds(at, params.day)
    statement = (
        sa.select(*columns("appointment"), *columns("order"), *columns("customer"), *columns("technician"))
        .join(ServiceOrder, col(ServiceOrder.id) == col(Appointment.order_id))
        .join(Customer, col(Customer.id) == col(ServiceOrder.customer_id))
        .outerjoin(Technician, col(Technician.id) == col(Appointment.technician_id))
        .where(literal_in(col(Appointment.status), ACTIVE_APPOINTMENT_STATUSES),
               col(Appointment.starts_at) >= start, col(Appointment.starts_at) < end)
        .order_by(col(Appointment.starts_at), col(Appointment.id))
        .limit(MAX_ROWS + 1)
    )
    if params.technician_id is not None:
        statement = statement.where(col(Appointment.technician_id) == params.technician_id)
    elif params.assigned_only:
        statement = statement.where(col(Appointment.technician_id).is_not(None))
    zone = at.tzinfo
    rows = []
    for row in session.execute(statement).mappings():
        appointment = row_data("appointment", row)
        assert appointment is not None
        local_start = row["appointment__starts_at"].astimezone(zone)
        appointment["local_start"] = local_start.strftime("%H:%M")
        appointment["local_end"] = row["appointment__ends_at"].astimezone(zone).strftime("%H:%M")
        appointment["day"] = local_start.date().isoformat()
        rows.append({"appointment": appointment, "order": row_data("order", row),
                     "customer": row_data("customer", row), "technician": row_data("technician", row)})
    return rows
