"""The company's own records: service-order assignment and status."""

from __future__ import annotations

from typing import ClassVar, Literal

from connectors.base import ActionSpec, Connector, Params

OrderStatus = Literal["open", "assigned", "scheduled", "in_progress", "on_hold", "completed", "cancelled"]

class AssignTechnicianParams(Params):
    order_id: str
    strategy: Literal["least_loaded", "round_robin"] = "least_loaded"

class SetStatusParams(Params):
    order_id: str
    status: OrderStatus
    reason: str | None = None

class OrderConnector(Connector):
    name = "order"
    actions: ClassVar[dict[str, ActionSpec]] = {
        "assign_technician": ActionSpec("assign_technician", AssignTechnicianParams,
                                        "Assign an eligible technician to a service order",
                                        outputs=("technician_id", "technician_name")),
        "set_status": ActionSpec("set_status", SetStatusParams,
                                 "Move a service order to another status",
                                 outputs=("previous_status", "status")),
    }
