"""Dry-run: which rules listen to an event, whether they match, what they would do.

Nothing is sent and nothing is written; connectors only ``plan()``. The
result is plain data (dataclasses) that the CLI prints and tests inspect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from connectors.base import Connector
from connectors.records import ROWS_OUTPUT, fixture_outputs
from connectors.registry import CONNECTOR_CLASSES
from engine.language.calls import CallPreparationError, prepare_call
from engine.language.conditions import ClauseResult, ConditionEvaluationError
from engine.language.context import EvaluationContext
from engine.language.events import Event
from engine.language.loops import LOOP_OUTPUTS, LoopError, loop_list, prepare_calls
from engine.language.ruleset import CompiledAction, CompiledRule, RuleSet
from engine.language.templating import TemplateRenderError, TemplateStore


@dataclass
class ActionPreview:
    id: str
    action: str
    params: dict[str, Any] | None
    preview: dict[str, Any]
    conditions: list[ClauseResult] = field(default_factory=list)
    skipped: str | None = None
    error: str | None = None
    fallback: list[ActionPreview] = field(default_factory=list)
    items: list[ActionPreview] | None = None  # for_each: one preview per call (None: no for_each)


@dataclass
class RulePreview:
    id: str
    file: str
    line: int
    matched: bool
    conditions: list[ClauseResult]
    actions: list[ActionPreview] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)
    error: str | None = None


@dataclass
class EventPreview:
    event: dict[str, Any]
    rules: list[RulePreview]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class DryRun:
    """Evaluates events against a rule set with connectors in plan mode."""

    def __init__(self, ruleset: RuleSet, templates: TemplateStore, config: dict[str, Any],
                 records: Mapping[str, list[dict[str, Any]]] | None = None) -> None:
        self.ruleset = ruleset
        self.templates = templates
        self.config = config
        self.connectors: dict[str, Connector] = {cls.name: cls() for cls in CONNECTOR_CLASSES}
        # rows a records.query step would read, by query name (rule tests give them): plan() reads nothing
        self.records: Mapping[str, list[dict[str, Any]]] = records or {}

    def with_records(self, records: Mapping[str, list[dict[str, Any]]]) -> DryRun:
        """The same dry-run, with ``records.query`` steps reading these rows."""
        return DryRun(self.ruleset, self.templates, self.config, records)

    def run(self, events: list[Event], now: datetime | None = None) -> list[EventPreview]:
        return [self.preview(event, now) for event in events]

    def preview(self, event: Event, now: datetime | None = None) -> EventPreview:
        return self.preview_rules(event, self.ruleset.matcher.rules_for(event.type), now)

    def preview_rules(self, event: Event, rules: list[CompiledRule],
                      now: datetime | None = None) -> EventPreview:
        """Evaluate ``event`` against the given rules (scheduled evaluations bypass the matcher)."""
        context = EvaluationContext(event, self.config, now)
        return EventPreview(event.model_dump(mode="json"), [self._rule(r, context) for r in rules])

    def _rule(self, rule: CompiledRule, context: EvaluationContext) -> RulePreview:
        trace: list[ClauseResult] = []
        matched = rule.condition.explain(context.cel, trace) if rule.condition else True
        result = RulePreview(rule.id, rule.file, rule.line, matched, trace)
        if not matched:
            return result
        variables = context.for_actions(rule.id, {})
        try:
            for name, key in (("dedupe", rule.dedupe_key), ("throttle", rule.throttle_key)):
                if key is not None:
                    result.keys[name] = str(key.render(variables))
        except TemplateRenderError as exc:
            result.error = str(exc)
        steps: dict[str, Any] = {}
        result.actions = [self._action(a, context, rule.id, steps) for a in rule.actions]
        return result

    def _action(self, action: CompiledAction, context: EvaluationContext, rule_id: str,
                steps: dict[str, Any]) -> ActionPreview:
        preview = ActionPreview(action.key, action.uses, None, {})
        if action.condition is not None and action.loop is None:  # a loop's is checked per item
            holds = action.condition.explain(context.cel_with_steps(steps), preview.conditions)
            if not holds:
                preview.skipped = "condition false"
                return preview
        variables = context.for_actions(rule_id, steps)
        try:
            if action.loop is not None:
                self._plan_each(action, variables, preview)
            else:
                preview.params, preview.preview = self._plan(action, variables)
        except (CallPreparationError, ConditionEvaluationError, LoopError) as exc:
            preview.error = str(exc)
        if action.explicit_id:
            # Outputs are unknown until the action runs: later steps see placeholders (or given rows).
            steps[action.key] = (fixture_outputs(action.uses, preview.params, self.records)
                                 or {name: f"<{action.key}.{name}>" for name in _outputs(action)})
            if ROWS_OUTPUT in steps[action.key] and isinstance(steps[action.key][ROWS_OUTPUT], list):
                preview.preview["rows"] = steps[action.key]["count"]
        preview.fallback = [self._action(f, context, rule_id, dict(steps)) for f in action.fallback]
        return preview

    def _plan_each(self, action: CompiledAction, variables: dict[str, Any], preview: ActionPreview) -> None:
        """One preview per call; a list only known when an earlier step runs is said to be so."""
        assert action.loop is not None
        source = loop_list(action.loop, variables)
        preview.preview = {"for_each": action.loop.source}
        if action.loop.path[0] == "steps" and isinstance(source, str) and source.startswith("<"):
            preview.preview["items"] = ("known when the step runs (a rule test can give the rows of "
                                        "records.query under records:)")
            return
        loop = prepare_calls(action, variables, self.templates)
        preview.items = []
        for unit, call in loop.calls:
            plan = self.connectors[call.connector].plan(call.action, call.params, call.message)
            preview.items.append(ActionPreview(f"{action.key}#{unit.key}", action.uses, call.rendered, plan))
        preview.preview.update(calls=len(loop.calls), skipped=[unit.key for unit in loop.skipped])

    def _plan(self, action: CompiledAction, variables: dict[str, Any]
              ) -> tuple[dict[str, Any], dict[str, Any]]:
        call = prepare_call(action, variables, self.templates)
        plan = self.connectors[call.connector].plan(call.action, call.params, call.message)
        return call.rendered, plan


def _outputs(action: CompiledAction) -> tuple[str, ...]:
    return LOOP_OUTPUTS if action.loop is not None else action.spec.outputs
