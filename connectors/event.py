"""Emitting follow-up events that other rules can react to."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import Field

from connectors.base import ActionCall, ActionSpec, Connector, Params
from errors import PermanentError


class EmitEventParams(Params):
    type: str = Field(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)+$",
                      description="Event type, e.g. invoice.escalated")
    data: dict[str, Any] = Field(default_factory=dict)


class EventConnector(Connector):
    name = "event"
    actions: ClassVar[dict[str, ActionSpec]] = {
        "emit": ActionSpec("emit", EmitEventParams, "Emit an event", outputs=("event_id",)),
    }

    def execute(self, call: ActionCall) -> dict[str, Any]:
        """Store the event; its id derives from the step's key, so a re-run stores it once."""
        from store.eventlog import insert_event

        if self.runtime.session is None:
            raise PermanentError("event.emit needs the database", code="no_database")
        params = call.params
        assert isinstance(params, EmitEventParams)
        event_id = f"emit:{call.idempotency_key}"
        with self.runtime.session() as session:
            insert_event(session, event_id, params.type, params.data, occurred_at=datetime.now(UTC),
                         source=f"rule:{call.rule_id}" if call.rule_id else "rule")
        return {"event_id": event_id}
