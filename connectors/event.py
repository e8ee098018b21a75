"""Emitting follow-up events that other rules can react to."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from connectors.base import ActionSpec, Connector, Params


class EmitEventParams(Params):
    type: str = Field(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)+$",
                      description="Event type, e.g. invoice.escalated")
    data: dict[str, Any] = Field(default_factory=dict)


class EventConnector(Connector):
    name = "event"
    actions: ClassVar[dict[str, ActionSpec]] = {
        "emit": ActionSpec("emit", EmitEventParams, "Emit an event", outputs=("event_id",)),
    }
