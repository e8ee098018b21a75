"""Technicians: who does the work, where, with which skills, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import Field

from store.errors import ValidationFailed
from store.models.base import Normalizer, Record, timestamp
from store.types import new_id
from store.validation import check_required, check_string_list, normalize_email, normalize_phone

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def check_working_hours(field: str, value: Any) -> dict[str, list[str]]:
    """``{"mon": ["08:00", "18:00"], ...}``; a missing day is a day off."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationFailed(field, f"expected a mapping of weekday to [start, end], got {value!r}")
    for day, hours in value.items():
        if day not in WEEKDAYS:
            raise ValidationFailed(f"{field}.{day}", f"unknown weekday; use one of {', '.join(WEEKDAYS)}")
        valid = (isinstance(hours, (list, tuple)) and len(hours) == 2
                 and all(isinstance(h, str) and _is_hhmm(h) for h in hours) and hours[0] < hours[1])
        if not valid:
            raise ValidationFailed(f"{field}.{day}",
                                   f"expected [\"HH:MM\", \"HH:MM\"] with start < end, got {hours!r}")
    return {day: list(hours) for day, hours in value.items()}


def _is_hhmm(text: str) -> bool:
    parts = text.split(":")
    return (len(parts) == 2 and all(p.isdigit() and len(p) == 2 for p in parts)
            and int(parts[0]) < 24 and int(parts[1]) < 60)


class Technician(Record, table=True):
    """A technician.

    Indexes: ``(region, active)`` narrows the candidates of an assignment;
    ``phone`` finds the technician behind an inbound message.
    """

    __tablename__ = "technicians"
    __table_args__ = (sa.Index(None, "region", "active"),)
    entity: ClassVar[str] = "technician"
    normalizers: ClassVar[dict[str, Normalizer]] = {
        "name": check_required,
        "region": check_required,
        "email": normalize_email,
        "phone": normalize_phone,
        "skills": check_string_list,
        "working_hours": check_working_hours,
    }

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=200)
    phone: str | None = Field(default=None, max_length=20, index=True, description="E.164")
    email: str | None = Field(default=None, max_length=254)
    skills: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    region: str = Field(max_length=100)
    active: bool = True
    working_hours: dict[str, list[str]] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    time_zone: str = Field(default="America/Sao_Paulo", max_length=64)
    google_calendar_id: str | None = Field(default=None, max_length=255)
    # round_robin picks the technician who waited longest since the last assignment
    last_assigned_at: datetime | None = timestamp()
    created_at: datetime = timestamp(default_now=True)
    updated_at: datetime = timestamp(default_now=True, onupdate=True)
    deleted_at: datetime | None = timestamp()
