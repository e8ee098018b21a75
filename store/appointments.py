"""Changes to an appointment (a visit) made from outside its order: moved or cancelled.

Google Calendar's two-way sync is the first caller (a technician dragged the
event, or deleted it). Each change records its event in the caller's
transaction, with ``changed_by`` saying who made it, so rules can tell the
customer whatever the origin.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from store.errors import ValidationFailed
from store.eventlog import DOMAIN_SOURCE, record_event
from store.models import Appointment, Customer, ServiceOrder, Technician
from store.models.orders import ACTIVE_APPOINTMENT_STATUSES
from store.payloads import record_data
from store.types import utcnow

RESCHEDULED = "appointment.rescheduled"
CANCELLED = "appointment.cancelled"


def reschedule(session: Session, appointment: Appointment, starts_at: datetime, ends_at: datetime, *,
               changed_by: str, source: str = DOMAIN_SOURCE, at: datetime | None = None) -> bool:
    """Move a live visit; records ``appointment.rescheduled``. ``False``: it already had those times."""
    _check_live(appointment)
    if ends_at <= starts_at:
        raise ValidationFailed("appointment.ends_at", f"must be after starts_at ({starts_at.isoformat()})")
    if (appointment.starts_at, appointment.ends_at) == (starts_at, ends_at):
        return False
    at = at or utcnow()
    payload = _previous(appointment)
    # no flush here: aware datetimes are already their stored form, and a sync applying a page
    # of moves writes them in one flush (one flush per visit was most of its cost)
    appointment.starts_at, appointment.ends_at, appointment.updated_at = starts_at, ends_at, at
    record_event(session, RESCHEDULED, _payload(session, appointment, payload, changed_by),
                 occurred_at=at, source=source)
    return True


def cancel(session: Session, appointment: Appointment, *, changed_by: str, source: str = DOMAIN_SOURCE,
           at: datetime | None = None) -> bool:
    """Cancel a live visit; records ``appointment.cancelled``. ``False``: it was cancelled already."""
    if appointment.status == "cancelled":
        return False
    _check_live(appointment)
    at = at or utcnow()
    payload = _previous(appointment)
    appointment.status, appointment.updated_at = "cancelled", at
    record_event(session, CANCELLED, _payload(session, appointment, payload, changed_by),
                 occurred_at=at, source=source)
    return True


def _check_live(appointment: Appointment) -> None:
    # a completed visit or a no-show is history: an edit elsewhere must not rewrite it
    if appointment.status not in ACTIVE_APPOINTMENT_STATUSES:
        raise ValidationFailed("appointment.status",
                               f"'{appointment.status}' visits cannot be moved or cancelled")


def _previous(appointment: Appointment) -> dict[str, Any]:
    return {"previous_starts_at": appointment.starts_at.isoformat(),
            "previous_ends_at": appointment.ends_at.isoformat(),
            "previous_status": appointment.status}


def _payload(session: Session, appointment: Appointment, previous: dict[str, Any],
             changed_by: str) -> dict[str, Any]:
    order = session.get(ServiceOrder, appointment.order_id)
    customer = session.get(Customer, order.customer_id) if order else None
    technician = session.get(Technician, appointment.technician_id) if appointment.technician_id else None
    return {"appointment": record_data("appointment", appointment), **previous,
            "order": record_data("order", order), "customer": record_data("customer", customer),
            "technician": record_data("technician", technician), "changed_by": changed_by}
