"""Service orders and their appointments (the visits)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import ClassVar

import sqlalchemy as sa
from sqlmodel import Field

from store.lifecycle import ORDER_STATUSES
from store.models.base import Normalizer, Record, timestamp
from store.types import MONEY, new_id
from store.validation import check_choice, check_required, check_string_list, normalize_amount

PRIORITIES = ("low", "normal", "high", "urgent")
APPOINTMENT_STATUSES = ("scheduled", "confirmed", "completed", "cancelled", "no_show")
ACTIVE_APPOINTMENT_STATUSES = ("scheduled", "confirmed")

class ServiceOrder(Record, table=True):
    """A service order; its life cycle is in ``store.lifecycle``.

    Indexes: ``customer_id`` and ``technician_id`` (a customer's or a
    technician's orders, load counts for ``least_loaded``); ``sla_due_at``
    for ``service_orders.sla_at_risk``; partial ``created_at WHERE
    technician_id IS NULL`` for ``service_orders.unassigned``; ``(status,
    created_at)`` for the dashboard's lists by status; ``created_at``,
    ``completed_at`` and ``cancelled_at`` for the dashboard's figures over a
    period (``console.metrics``).

    ``assigned_at`` is when the order first got a technician (the time to assign).
    """

    __tablename__ = "service_orders"
    __table_args__ = (
        sa.Index(None, "status", "created_at"),
        sa.Index("ix_service_orders_unassigned_created_at", "created_at",
                 postgresql_where=sa.text("technician_id IS NULL"),
                 sqlite_where=sa.text("technician_id IS NULL")),
        sa.Index(None, "created_at"),
        sa.Index(None, "completed_at"),
        sa.Index(None, "cancelled_at"),
        sa.CheckConstraint("amount >= 0", name="amount_not_negative"),
    )
    entity: ClassVar[str] = "service_order"
    normalizers: ClassVar[dict[str, Normalizer]] = {
        "customer_id": check_required,
        "region": check_required,
        "status": partial(check_choice, choices=ORDER_STATUSES),
        "priority": partial(check_choice, choices=PRIORITIES),
        "required_skills": check_string_list,
        "amount": normalize_amount,
    }

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    customer_id: str = Field(foreign_key="customers.id", index=True, max_length=36)
    technician_id: str | None = Field(default=None, foreign_key="technicians.id", index=True,
                                      max_length=36)
    status: str = Field(default="open", max_length=20)
    status_reason: str | None = Field(default=None, max_length=500)
    priority: str = Field(default="normal", max_length=10)
    description: str = Field(default="", max_length=2000)
    required_skills: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    region: str = Field(max_length=100)
    address: str | None = Field(default=None, max_length=300)
    scheduled_start: datetime | None = timestamp()
    scheduled_end: datetime | None = timestamp()
    sla_due_at: datetime | None = timestamp(index=True)
    amount: Decimal = Field(default=Decimal("0.00"), sa_type=MONEY, nullable=False)
    created_at: datetime = timestamp(default_now=True)
    updated_at: datetime = timestamp(default_now=True, onupdate=True)
    assigned_at: datetime | None = timestamp()
    completed_at: datetime | None = timestamp()
    cancelled_at: datetime | None = timestamp()
    deleted_at: datetime | None = timestamp()


class Appointment(Record, table=True):
    """A visit of a technician for an order.

    Indexes: partial ``starts_at WHERE status IN ('scheduled', 'confirmed')``
    for ``appointments.starting_within`` (only live visits, so the index stays
    small as history grows); ``(technician_id, starts_at)`` for the
    technician's agenda and the free-at-that-time check; ``order_id``;
    ``starts_at`` for the dashboard's booked hours over a period.
    """

    __tablename__ = "appointments"
    __table_args__ = (
        sa.Index("ix_appointments_active_starts_at", "starts_at",
                 postgresql_where=sa.text("status IN ('scheduled', 'confirmed')"),
                 sqlite_where=sa.text("status IN ('scheduled', 'confirmed')")),
        sa.Index(None, "technician_id", "starts_at"),
        sa.Index(None, "starts_at"),
    )
    entity: ClassVar[str] = "appointment"
    normalizers: ClassVar[dict[str, Normalizer]] = {
        "order_id": check_required,
        "starts_at": check_required,
        "ends_at": check_required,
        "status": partial(check_choice, choices=APPOINTMENT_STATUSES),
    }

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    order_id: str = Field(foreign_key="service_orders.id", index=True, max_length=36)
    technician_id: str | None = Field(default=None, foreign_key="technicians.id", max_length=36)
    starts_at: datetime = timestamp(nullable=False)
    ends_at: datetime = timestamp(nullable=False)
    status: str = Field(default="scheduled", max_length=20)
    notes: str | None = Field(default=None, max_length=1000)
    created_at: datetime = timestamp(default_now=True)
    updated_at: datetime = timestamp(default_now=True, onupdate=True)
