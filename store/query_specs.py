"""Names and parameters of the named queries (``for_each`` triggers and ``records.query``).

The rule validator needs only these declarations; the queries themselves
(SQL over the domain tables) live beside the tables. ``max_rows`` bounds what
``records.query`` hands to a rule: a query that finds more is an error, never
a silent cut.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator

from store.durations import parse_duration


class QueryParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OverdueInvoicesParams(QueryParams):
    days: int = Field(1, ge=0, description="Days past the due date, at least")


class StartingWithinParams(QueryParams):
    hours: float = Field(24, gt=0, description="Appointments starting within this many hours")


class SlaAtRiskParams(QueryParams):
    hours: float = Field(4, gt=0, description="Open orders whose SLA ends within this many hours")
    include_breached: bool = Field(False, description="Also orders already past their SLA")


class UnassignedParams(QueryParams):
    older_than: str = Field("2h", description="Duration since creation, e.g. '2h'")

    @field_validator("older_than")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)  # caught by `despacho validate`, not at the first fire
        return value


class OpenForCustomerParams(QueryParams):
    customer_id: str = Field(min_length=1, max_length=36, description="The customer's id")


DAY_WORDS = ("today", "tomorrow")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class OfDayParams(QueryParams):
    day: str = Field("today", description="'today', 'tomorrow' or a date YYYY-MM-DD, in the company's "
                                          "time zone")
    technician_id: str | None = Field(None, max_length=36, description="Only this technician's visits")
    assigned_only: bool = Field(False, description="Only visits that have a technician")

    @field_validator("day")
    @classmethod
    def _day(cls, value: str) -> str:
        if value in DAY_WORDS:
            return value
        try:
            if _ISO_DAY.match(value):
                date.fromisoformat(value)
                return value
        except ValueError:
            pass
        raise ValueError(f"'{value}' is not a day: write today, tomorrow or YYYY-MM-DD")


MAX_ROWS = 500


@dataclass(frozen=True)
class QuerySpec:
    name: str
    params: type[QueryParams]
    description: str
    max_rows: int = MAX_ROWS


QUERY_SPECS: dict[str, QuerySpec] = {
    spec.name: spec
    for spec in (
        QuerySpec("invoices.overdue", OverdueInvoicesParams,
                  "Unpaid invoices at least `days` past due, with customer and order"),
        QuerySpec("appointments.starting_within", StartingWithinParams,
                  "Appointments starting within `hours`, with customer and technician"),
        QuerySpec("service_orders.sla_at_risk", SlaAtRiskParams,
                  "Open orders whose SLA ends within `hours`"),
        QuerySpec("service_orders.unassigned", UnassignedParams,
                  "Orders without a technician, older than `older_than`"),
        QuerySpec("service_orders.open_for_customer", OpenForCustomerParams,
                  "A customer's orders not yet completed or cancelled, oldest first"),
        QuerySpec("appointments.of_day", OfDayParams,
                  "Live visits of one day (optionally one technician's), with order, customer, technician"),
    )
}
