"""Operations on service orders; each records its event in the caller's transaction.

These back the ``order.create``/``order.assign_technician``/``order.set_status``
actions. Run each inside ``store.db.session_scope`` so the change and its
event commit together, or neither does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from store.assignment import STRATEGIES, CalendarCheck, choose_technician
from store.errors import IllegalTransition, NotFound, ValidationFailed
from store.eventlog import record_event
from store.lifecycle import TERMINAL_STATUSES, TRANSITIONS, check_transition
from store.models import Appointment, Customer, ServiceOrder, Technician
from store.models.orders import ACTIVE_APPOINTMENT_STATUSES
from store.payloads import record_data
from store.types import utcnow

# assign_technician may (re)assign in these statuses; a scheduled order keeps its slot
ASSIGNABLE = ("open", "assigned", "scheduled", "on_hold")


@dataclass(frozen=True)
class Assignment:
    order: ServiceOrder
    technician: Technician
    previous_status: str
    previous_technician_id: str | None
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> technicians it excluded
    notes: dict[str, str] = field(default_factory=dict)  # technician id -> a caveat (calendar not checked)


@dataclass(frozen=True)
class StatusChange:
    order: ServiceOrder
    previous_status: str
    status: str
    changed: bool


def create_order(session: Session, *, customer_id: str, region: str, at: datetime | None = None,
                 **fields: Any) -> ServiceOrder:
    """A new ``open`` order; records ``service_order.created``."""
    customer = session.get(Customer, customer_id) if customer_id else None
    if customer is None:
        raise ValidationFailed("service_order.customer_id", f"no customer with id '{customer_id}'")
    at = at or utcnow()
    order = ServiceOrder(customer_id=customer_id, region=region, status="open",
                         created_at=at, updated_at=at, **fields)
    session.add(order)
    session.flush()  # normalizers run now, so the payload shows stored values
    record_event(session, "service_order.created", order_payload(session, order), occurred_at=at)
    return order


def assign_technician(session: Session, order_id: str, strategy: str = "least_loaded", *,
                      at: datetime | None = None, calendar_check: CalendarCheck | None = None) -> Assignment:
    """Give the order the technician ``strategy`` picks; records ``service_order.assigned``."""
    if strategy not in STRATEGIES:
        raise ValidationFailed("strategy", f"'{strategy}' is not one of: {', '.join(STRATEGIES)}")
    order = _locked_order(session, order_id)
    if order.status not in ASSIGNABLE:
        raise IllegalTransition(order.status, "assigned", TRANSITIONS[order.status],
                                reason="only open, assigned, scheduled or on-hold orders take a technician")
    technician, eligibility = choose_technician(session, order, strategy, calendar_check)
    at = at or utcnow()
    previous_status, previous_technician_id = order.status, order.technician_id
    order.technician_id = technician.id
    if order.status != "scheduled":
        order.status = "assigned"
    order.updated_at = at
    order.assigned_at = order.assigned_at or at  # the first assignment: the dashboard's time to assign
    technician.last_assigned_at = at
    for visit in _live_visits(session, order.id):
        visit.technician_id = technician.id
    session.flush()
    payload = order_payload(session, order)
    payload.update(previous_status=previous_status, previous_technician_id=previous_technician_id)
    record_event(session, "service_order.assigned", payload, occurred_at=at)
    return Assignment(order, technician, previous_status, previous_technician_id,
                      dict(eligibility.excluded), eligibility.notes)


def set_status(session: Session, order_id: str, status: str, reason: str | None = None, *,
               at: datetime | None = None) -> StatusChange:
    """Move the order along its life cycle (``store.lifecycle``).

    Setting the status it already has changes nothing and records nothing, so
    an action delivered twice is harmless. Records ``service_order.status_changed``
    and, for final statuses, ``service_order.completed`` / ``.cancelled`` too.
    """
    order = _locked_order(session, order_id)
    previous = order.status
    if status == previous:
        return StatusChange(order, previous, status, changed=False)
    check_transition(previous, status, has_technician=order.technician_id is not None)
    at = at or utcnow()
    order.status, order.status_reason, order.updated_at = status, reason, at
    if status == "open":
        order.technician_id = None  # back to the pool: the technician is released
    if status == "completed":
        order.completed_at = at
    if status == "cancelled":
        order.cancelled_at = at
        for visit in _live_visits(session, order.id):
            visit.status = "cancelled"
    session.flush()
    payload = order_payload(session, order)
    payload.update(previous_status=previous, status=status, reason=reason)
    record_event(session, "service_order.status_changed", payload, occurred_at=at)
    if status in TERMINAL_STATUSES:
        record_event(session, f"service_order.{status}", payload, occurred_at=at)
    return StatusChange(order, previous, status, changed=True)


def _locked_order(session: Session, order_id: str) -> ServiceOrder:
    # FOR UPDATE on PostgreSQL: two workers assigning the same order queue up
    # instead of both writing (SQLite serialises writers anyway)
    order = session.exec(
        select(ServiceOrder).where(ServiceOrder.id == order_id, col(ServiceOrder.deleted_at).is_(None))
        .with_for_update()
    ).first()
    if order is None:
        raise NotFound("service_order", order_id, field="order_id")
    return order


def _live_visits(session: Session, order_id: str) -> list[Appointment]:
    return list(session.exec(
        select(Appointment).where(Appointment.order_id == order_id,
                                  col(Appointment.status).in_(ACTIVE_APPOINTMENT_STATUSES))
    ))


def order_payload(session: Session, order: ServiceOrder) -> dict[str, Any]:
    technician = session.get(Technician, order.technician_id) if order.technician_id else None
    return {
        "order": record_data("order", order),
        "customer": record_data("customer", session.get(Customer, order.customer_id)),
        "technician": record_data("technician", technician),
    }
