"""The variables conditions and templates see for one event (built once per event)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engine.language.conditions import Scope
from engine.language.events import Event


class EvaluationContext:
    """``event``, ``data``, ``now`` and ``config``; the CEL context is built once and reused."""

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
