"""Named queries for ``for_each`` triggers and ``records.query``, by the names in ``store.query_specs``.

Each takes a session, the moment to evaluate at (tz-aware) and its params
model, and returns plain dicts ready for templates and JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from store.errors import ValidationFailed
from store.queries.appointments import appointments_of_day, appointments_starting_within
from store.queries.invoices import overdue_invoices
from store.queries.service_orders import open_for_customer, sla_at_risk, unassigned
from store.query_specs import QUERY_SPECS, QueryParams

NamedQuery = Callable[[Session, datetime, Any], list[dict[str, Any]]]

QUERIES: dict[str, NamedQuery] = {
    "invoices.overdue": overdue_invoices,
    "appointments.starting_within": appointments_starting_within,
    "service_orders.sla_at_risk": sla_at_risk,
    "service_orders.unassigned": unassigned,
    "service_orders.open_for_customer": open_for_customer,
    "appointments.of_day": appointments_of_day,
}


def run_query(session: Session, name: str, at: datetime,
              params: QueryParams | Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Run a named query; ``params`` may be the model or the mapping a rule file holds."""
    if name not in QUERIES:
        raise ValidationFailed("query", f"unknown query '{name}'; known: {', '.join(sorted(QUERIES))}")
    spec = QUERY_SPECS[name]
    if not isinstance(params, spec.params):
        try:
            params = spec.params.model_validate(dict(params or {}))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "params"
            raise ValidationFailed(f"params.{field}", first["msg"]) from exc
    return QUERIES[name](session, at, params)
