"""Service orders, their transitions and assignment, and appointments on the wire."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from api.schemas.common import Amount, Id, Input, Output, Short, Skills, text
from store.assignment import STRATEGIES
from store.lifecycle import ORDER_STATUSES
from store.models.orders import APPOINTMENT_STATUSES, PRIORITIES

Priority = Literal[PRIORITIES]  # type: ignore[valid-type]
OrderStatus = Literal[ORDER_STATUSES]  # type: ignore[valid-type]
AppointmentStatus = Literal[APPOINTMENT_STATUSES]  # type: ignore[valid-type]
Strategy = Literal[tuple(STRATEGIES)]  # type: ignore[valid-type]


class OrderIn(Input):
    customer_id: Id
    region: Short
    priority: Priority = "normal"
    description: text(2000, multiline=True) = ""  # type: ignore[valid-type]
    required_skills: Skills = Field(default_factory=list)
    address: text(300) | None = None  # type: ignore[valid-type]
    scheduled_start: AwareDatetime | None = None
    scheduled_end: AwareDatetime | None = None
    sla_due_at: AwareDatetime | None = None
    amount: Amount = Decimal("0.00")

    @model_validator(mode="after")
    def _window(self) -> OrderIn:
        _check_window(self.scheduled_start, self.scheduled_end, "scheduled_end")
        return self


class OrderPatch(Input):
    """Status and technician change through ``/status`` and ``/assign``, which record events."""

    region: Short = None  # type: ignore[assignment]
    priority: Priority = None  # type: ignore[assignment]
    description: text(2000, multiline=True) = None  # type: ignore[valid-type]
    required_skills: Skills = None  # type: ignore[assignment]
    address: text(300) | None = None  # type: ignore[valid-type]
    scheduled_start: AwareDatetime | None = None
    scheduled_end: AwareDatetime | None = None
    sla_due_at: AwareDatetime | None = None
    amount: Amount = None  # type: ignore[assignment]


class StatusChangeIn(Input):
    status: OrderStatus
    reason: text(500, multiline=True) | None = None  # type: ignore[valid-type]


class AssignIn(Input):
    strategy: Strategy = "least_loaded"


class OrderOut(Output):
    id: str
    customer_id: str
    technician_id: str | None
    status: str
    status_reason: str | None
    priority: str
    description: str
    required_skills: list[str]
    region: str
    address: str | None
    scheduled_start: datetime | None
    scheduled_end: datetime | None
    sla_due_at: datetime | None
    amount: Decimal
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    cancelled_at: datetime | None


class StatusChangeOut(Output):
    order: OrderOut
    previous_status: str
    changed: bool


class AppointmentIn(Input):
    order_id: Id
    technician_id: Id | None = None
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    status: AppointmentStatus = "scheduled"
    notes: text(1000, multiline=True) | None = None  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _window(self) -> AppointmentIn:
        _check_window(self.starts_at, self.ends_at, "ends_at")
        return self


class AppointmentPatch(Input):
    technician_id: Id | None = None
    starts_at: AwareDatetime = None  # type: ignore[assignment]
    ends_at: AwareDatetime = None  # type: ignore[assignment]
    status: AppointmentStatus = None  # type: ignore[assignment]
    notes: text(1000, multiline=True) | None = None  # type: ignore[valid-type]


class AppointmentOut(Output):
    id: str
    order_id: str
    technician_id: str | None
    starts_at: datetime
    ends_at: datetime
    status: str
    notes: str | None
    created_at: datetime
    updated_at: datetime


def _check_window(start: datetime | None, end: datetime | None, field: str) -> None:
    if start is not None and end is not None and end <= start:
        raise ValueError(f"{field} must be after the start")
