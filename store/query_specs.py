"""Names and parameters of the queries a ``for_each`` trigger may run.

The rule validator needs only these declarations; the queries themselves
(SQL over the domain tables) live beside the tables.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class QuerySpec:
    name: str
    params: type[QueryParams]
    description: str


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
    )
}
