"""The variables conditions and templates see for one event (built once per event)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engine.language.conditions import Scope
from engine.language.events import Event
from engine.language.recipients import recipient_zone

DEFAULT_ZONE = "America/Sao_Paulo"  # the settings' default, for tools that pass no config


class EvaluationContext:
    """``event``, ``data``, ``now``, ``config`` and ``recipient``; the CEL context is built once and reused.

    ``recipient`` is the local clock of the event's recipient (``data.customer``, else
    ``data.technician``; the configured zone when they have no usable ``time_zone``): CEL's own
    timestamp functions know no zones, so conditions compare ``recipient.time`` (``"HH:MM"``).
    """

    def __init__(self, event: Event, config: dict[str, Any], now: datetime | None = None) -> None:
        self.event = event
        # CEL timestamps take UTC (or fixed offsets), not zone names: convert at the boundary.
        self.now = (now or datetime.now(UTC)).astimezone(UTC)
        header = event.header()
        header["at"] = header["at"].astimezone(UTC)
        self.variables: dict[str, Any] = {
            "event": header,
            "data": event.data,
            "now": self.now,
            "config": config,
            "recipient": recipient_zone(event.data, None, config.get("timezone") or DEFAULT_ZONE)
            .clock(self.now),
        }
        self._cel: Scope | None = None

    @property
    def cel(self) -> Scope:
        if self._cel is None:
            self._cel = Scope(self.variables)
        return self._cel

    def for_actions(self, rule_id: str, steps: dict[str, Any]) -> dict[str, Any]:
        """The template variables of a rule's actions, with the steps run so far."""
        return {**self.variables, "rule": {"id": rule_id}, "steps": steps}

    def cel_with_steps(self, steps: dict[str, Any]) -> Scope:
        return Scope({**self.variables, "steps": steps})
