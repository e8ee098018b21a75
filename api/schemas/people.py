"""Customers and technicians on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from api.schemas.common import Input, Name, Output, Short, Skills, TimeZone, text
from store.models.technicians import WEEKDAYS

Tier = Literal["standard", "premium", "enterprise"]
Channel = Literal["email", "sms", "whatsapp"]
Weekday = Literal[WEEKDAYS]  # type: ignore[valid-type]
Hours = dict[Weekday, list[text(5, 5)]]  # type: ignore[valid-type]


class CustomerIn(Input):
    name: Name
    email: text(254) | None = None  # type: ignore[valid-type]
    phone: text(40) | None = None  # type: ignore[valid-type]
    tier: Tier = "standard"
    preferred_channel: Channel = "whatsapp"
    opt_outs: list[Channel] = Field(default_factory=list, max_length=3)
    time_zone: TimeZone = "America/Sao_Paulo"
    address: text(300) | None = None  # type: ignore[valid-type]
    city: text(100) | None = None  # type: ignore[valid-type]
    state: text(2) | None = None  # type: ignore[valid-type]
    postal_code: text(9) | None = None  # type: ignore[valid-type]


class CustomerPatch(Input):
    """Only the fields sent change; ``null`` clears an optional field."""

    name: Name = None  # type: ignore[assignment]
    email: text(254) | None = None  # type: ignore[valid-type]
    phone: text(40) | None = None  # type: ignore[valid-type]
    tier: Tier = None  # type: ignore[assignment]
    preferred_channel: Channel = None  # type: ignore[assignment]
    opt_outs: list[Channel] = Field(None, max_length=3)  # type: ignore[assignment]
    time_zone: TimeZone = None  # type: ignore[assignment]
    address: text(300) | None = None  # type: ignore[valid-type]
    city: text(100) | None = None  # type: ignore[valid-type]
    state: text(2) | None = None  # type: ignore[valid-type]
    postal_code: text(9) | None = None  # type: ignore[valid-type]


class CustomerOut(Output):
    id: str
    name: str
    email: str | None
    phone: str | None
    tier: str
    preferred_channel: str
    opt_outs: list[str]
    time_zone: str
    address: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    created_at: datetime
    updated_at: datetime


class TechnicianIn(Input):
    name: Name
    region: Short
    phone: text(40) | None = None  # type: ignore[valid-type]
    email: text(254) | None = None  # type: ignore[valid-type]
    skills: Skills = Field(default_factory=list)
    active: bool = True
    working_hours: Hours = Field(default_factory=dict, description='{"mon": ["08:00", "18:00"], ...}')
    time_zone: TimeZone = "America/Sao_Paulo"
    google_calendar_id: text(255) | None = None  # type: ignore[valid-type]


class TechnicianPatch(Input):
    name: Name = None  # type: ignore[assignment]
    region: Short = None  # type: ignore[assignment]
    phone: text(40) | None = None  # type: ignore[valid-type]
    email: text(254) | None = None  # type: ignore[valid-type]
    skills: Skills = None  # type: ignore[assignment]
    active: bool = None  # type: ignore[assignment]
    working_hours: Hours = None  # type: ignore[assignment]
    time_zone: TimeZone = None  # type: ignore[assignment]
    google_calendar_id: text(255) | None = None  # type: ignore[valid-type]


class TechnicianOut(Output):
    id: str
    name: str
    region: str
    phone: str | None
    email: str | None
    skills: list[str]
    active: bool
    working_hours: dict[str, list[str]]
    time_zone: str
    google_calendar_id: str | None
    last_assigned_at: datetime | None
    created_at: datetime
    updated_at: datetime
