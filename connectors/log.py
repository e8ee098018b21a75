"""Writing a line to despacho's own structured log: for debugging rules, and as a no-op action."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from connectors.base import ActionCall, ActionSpec, Connector, Params


class WriteLogParams(Params):
    message: str = Field(description="What to log (a template)")
    level: Literal["debug", "info", "warning", "error"] = "info"
    fields: dict[str, Any] = Field(default_factory=dict, description="Extra structured fields")


class LogConnector(Connector):
    name = "log"
    actions: ClassVar[dict[str, ActionSpec]] = {
        "write": ActionSpec("write", WriteLogParams, "Write a line to despacho's log"),
    }

    def plan(self, action: str, params: Params, message: dict[str, str] | None) -> dict[str, Any]:
        assert isinstance(params, WriteLogParams)
        return {"level": params.level, "message": params.message}

    def execute(self, call: ActionCall) -> dict[str, Any]:
        import structlog  # imported when a step runs: checking rules needs only the params model

        params = call.params
        assert isinstance(params, WriteLogParams)
        log = structlog.get_logger("despacho.rules")
        getattr(log, params.level)(params.message, rule_id=call.rule_id, event_id=call.event_id,
                                   step_id=call.step_id, **params.fields)
        return {}
