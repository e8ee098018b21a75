"""The company's own records: service-order assignment and status."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from connectors.base import ActionCall, ActionSpec, Connector, Params
from errors import PermanentError
from store.errors import IllegalTransition, NotFound, ValidationFailed

if TYPE_CHECKING:
    from store.assignment import CalendarCheck, CalendarVerdict
    from store.models import Technician

OrderStatus = Literal["open", "assigned", "scheduled", "in_progress", "on_hold", "completed", "cancelled"]

class AssignTechnicianParams(Params):
    order_id: str
    strategy: Literal["least_loaded", "round_robin"] = "least_loaded"
    calendar: Literal["ignore", "check"] = Field(
        "ignore", description="check: technicians Google Calendar shows busy at the order's scheduled "
                              "time are not eligible (one freeBusy query); technicians without a "
                              "connected calendar stay eligible, with a note")

class SetStatusParams(Params):
    order_id: str
    status: OrderStatus
    reason: str | None = None

class OrderConnector(Connector):
    name = "order"
    actions: ClassVar[dict[str, ActionSpec]] = {
        "assign_technician": ActionSpec("assign_technician", AssignTechnicianParams,
                                        "Assign an eligible technician to a service order",
                                        outputs=("technician_id", "technician_name", "skipped",
                                                 "calendar_notes")),
        "set_status": ActionSpec("set_status", SetStatusParams,
                                 "Move a service order to another status",
                                 outputs=("previous_status", "status")),
    }

    def execute(self, call: ActionCall) -> dict[str, Any]:
        """Change the order and record the effect in one transaction: a re-run changes nothing."""
        from store.effects import record_effect, recorded_outputs

        if self.runtime.session is None:
            raise PermanentError("order actions need the database", code="no_database")
        with self.runtime.session() as session:
            done = recorded_outputs(session, call.idempotency_key)
            if done is not None:
                return done
            try:
                outputs = self._change(session, call)
            except (IllegalTransition, NotFound, ValidationFailed) as exc:
                raise PermanentError(str(exc), code=type(exc).__name__.lower()) from exc
            record_effect(session, call.idempotency_key, f"order.{call.action}", outputs)
            return outputs

    def _change(self, session: Any, call: ActionCall) -> dict[str, Any]:
        from store.service_orders import assign_technician, set_status

        params = call.params
        if isinstance(params, AssignTechnicianParams):
            check = self._calendar_check() if params.calendar == "check" else None
            assignment = assign_technician(session, params.order_id, params.strategy, calendar_check=check)
            technician = assignment.technician
            return {"technician_id": technician.id, "technician_name": technician.name,
                    "skipped": assignment.skipped, "calendar_notes": assignment.notes}
        assert isinstance(params, SetStatusParams)
        change = set_status(session, params.order_id, params.status, params.reason)
        return {"previous_status": change.previous_status, "status": change.status}

    def _calendar_check(self) -> CalendarCheck:
        if self.runtime.calendar_check is not None:
            return self.runtime.calendar_check
        return _not_checked

def _not_checked(technicians: Sequence[Technician], start: datetime, end: datetime,
                 order_id: str) -> CalendarVerdict:
    from store.assignment import CalendarVerdict

    return CalendarVerdict(not_checked={t.id: "calendar not checked: the calendar connector is not available"
                                        for t in technicians})
