"""Dry-run: which rules listen to an event, whether they match, what they would do, and when.

Nothing is sent and nothing is written; connectors only ``plan()``. The
result is plain data (dataclasses) that the CLI prints and tests inspect.

Besides the actions, a preview says when each would run (``delay`` after the
step before it, quiet hours of the rule) and which rules the events of its
``event.emit`` actions would start: those events go back through the matcher,
up to ``max_depth`` levels, and a rule that would start again further down its
own chain is reported as a loop instead of being followed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from connectors.base import Connector
from connectors.event import EmitEventParams
from connectors.records import ROWS_OUTPUT, fixture_outputs
from connectors.registry import CONNECTOR_CLASSES
from engine.language.calls import CallPreparationError, PreparedCall, params_error, prepare_call
from engine.language.conditions import ClauseResult, ConditionEvaluationError
from engine.language.context import EvaluationContext
from engine.language.events import Event
from engine.language.loops import LOOP_OUTPUTS, LoopError, loop_list, prepare_calls
from engine.language.quiet_hours import held_until, hold_zone
from engine.language.ruleset import CompiledAction, CompiledRule, RuleSet
from engine.language.templating import TemplateRenderError, TemplateStore

DEFAULT_FOLLOW_DEPTH = 3
MAX_FOLLOWED = 200  # rules evaluated for emitted events, per given event, all levels together
_EMIT = "event.emit"


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
    runs_at: datetime | None = None      # earliest start: delays after the steps before it, quiet hours
    delayed: bool = False                # runs_at comes from a delay (of this step or one before)
    held_until: datetime | None = None   # quiet hours of the rule hold this step until then
    follow_up: EventPreview | None = None  # what the event of an event.emit would start


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
    held_until: datetime | None = None   # the run would be held by quiet hours until then
    hold_zone: str | None = None         # the zone the quiet hours were read in


@dataclass
class EventPreview:
    event: dict[str, Any]
    rules: list[RulePreview]
    depth: int = 0                       # 0 for the given event, n for an event emitted n levels down
    loops: list[str] = field(default_factory=list)  # "a -> b -> a": rules not followed again
    stopped: str | None = None           # why its rules were not evaluated (the depth limit)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Budget:
    """Rule evaluations left for the emitted events of one given event: fan-out stays bounded."""

    left: int = MAX_FOLLOWED


@dataclass(frozen=True)
class _Chain:
    """Where an evaluation sits: how deep, which rules led to it (to spot loops), the budget left."""

    depth: int = 0
    rules: tuple[str, ...] = ()
    budget: _Budget = field(default_factory=_Budget)


class DryRun:
    """Evaluates events against a rule set with connectors in plan mode."""

    def __init__(self, ruleset: RuleSet, templates: TemplateStore, config: dict[str, Any],
                 records: Mapping[str, list[dict[str, Any]]] | None = None, *,
                 max_depth: int = DEFAULT_FOLLOW_DEPTH) -> None:
        self.ruleset = ruleset
        self.templates = templates
        self.config = config
        self.max_depth = max_depth
        self.timezone = str(config.get("timezone") or "UTC")
        self.connectors: dict[str, Connector] = {cls.name: cls() for cls in CONNECTOR_CLASSES}
        # rows a records.query step would read, by query name (rule tests give them): plan() reads nothing
        self.records: Mapping[str, list[dict[str, Any]]] = records or {}

    def with_records(self, records: Mapping[str, list[dict[str, Any]]]) -> DryRun:
        """The same dry-run, with ``records.query`` steps reading these rows."""
        return DryRun(self.ruleset, self.templates, self.config, records, max_depth=self.max_depth)

    def run(self, events: list[Event], now: datetime | None = None) -> list[EventPreview]:
        return [self.preview(event, now) for event in events]

    def preview(self, event: Event, now: datetime | None = None) -> EventPreview:
        return self.preview_rules(event, self.ruleset.matcher.rules_for(event.type), now)

    def preview_rules(self, event: Event, rules: list[CompiledRule],
                      now: datetime | None = None) -> EventPreview:
        """Evaluate ``event`` against the given rules (scheduled evaluations bypass the matcher)."""
        return self._event(event, rules, now or datetime.now(UTC), _Chain())

    def _event(self, event: Event, rules: list[CompiledRule], now: datetime, chain: _Chain) -> EventPreview:
        context = EvaluationContext(event, self.config, now)
        result = EventPreview(event.model_dump(mode="json"), [], chain.depth)
        for rule in rules:
            if rule.id in chain.rules:
                result.loops.append(" -> ".join((*chain.rules, rule.id)))
            elif chain.depth and chain.budget.left <= 0:
                result.stopped = f"not followed: over {MAX_FOLLOWED} rules evaluated for emitted events"
            else:
                if chain.depth:
                    chain.budget.left -= 1
                result.rules.append(self._rule(rule, context, chain))
        return result

    def _rule(self, rule: CompiledRule, context: EvaluationContext, chain: _Chain) -> RulePreview:
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
        self._hold(rule, context, context.now, result)
        steps: dict[str, Any] = {}
        inner = _Chain(chain.depth, (*chain.rules, rule.id), chain.budget)
        clock = _Clock(context.now, delayed=False)  # the first step meets the run's hold itself
        result.actions = [self._action(a, context, rule, steps, inner, clock) for a in rule.actions]
        return result

    def _hold(self, rule: CompiledRule, context: EvaluationContext, at: datetime,
              result: RulePreview | None = None) -> datetime:
        """``at``, or the end of the rule's quiet window around it."""
        quiet = rule.rule.quiet_hours
        if quiet is None:
            return at
        zone = hold_zone(quiet, context.event.data, self.timezone)
        until = held_until(quiet, at, zone)
        if result is not None:
            result.held_until, result.hold_zone = until, zone
        return until or at

    def _action(self, action: CompiledAction, context: EvaluationContext, rule: CompiledRule,
                steps: dict[str, Any], chain: _Chain, clock: _Clock | None) -> ActionPreview:
        preview = ActionPreview(action.key, action.uses, None, {})
        if clock is not None:  # fallbacks run after a failure: their time is not known
            self._schedule(preview, action, context, rule, clock)
        if action.condition is not None and action.loop is None:  # a loop's is checked per item
            holds = action.condition.explain(context.cel_with_steps(steps), preview.conditions)
            if not holds:
                preview.skipped = "condition false"
                return preview
        variables = context.for_actions(rule.id, steps)
        try:
            if action.loop is not None:
                self._plan_each(action, variables, preview)
            else:
                call = prepare_call(action, variables, self.templates)
                preview.params = call.rendered
                preview.preview = self.connectors[call.connector].plan(call.action, call.params, call.message)
                preview.follow_up = self._follow(call, context, rule, chain, preview.runs_at)
        except (CallPreparationError, ConditionEvaluationError, LoopError) as exc:
            preview.error = str(exc)
        if action.explicit_id:
            # Outputs are unknown until the action runs: later steps see placeholders (or given rows).
            steps[action.key] = (fixture_outputs(action.uses, preview.params, self.records)
                                 or {name: f"<{action.key}.{name}>" for name in _outputs(action)})
            if ROWS_OUTPUT in steps[action.key] and isinstance(steps[action.key][ROWS_OUTPUT], list):
                preview.preview["rows"] = steps[action.key]["count"]
        preview.fallback = [self._action(f, context, rule, dict(steps), chain, None) for f in action.fallback]
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

    def _schedule(self, preview: ActionPreview, action: CompiledAction, context: EvaluationContext,
                  rule: CompiledRule, clock: _Clock) -> None:
        # A step is queued ``delay`` after the one before it finished (taken as at once here);
        # quiet hours are looked at again when it is due.
        if action.delay:
            clock.at, clock.delayed = clock.at + action.delay, True
        due = self._hold(rule, context, clock.at)
        if due != clock.at:
            preview.held_until = due
            clock.at = due
        preview.runs_at, preview.delayed = clock.at, clock.delayed

    def _follow(self, call: PreparedCall, context: EvaluationContext, rule: CompiledRule, chain: _Chain,
                at: datetime | None) -> EventPreview | None:
        """The rules the event of an ``event.emit`` would start, evaluated as of when it is emitted."""
        if f"{call.connector}.{call.action}" != _EMIT or not isinstance(call.params, EmitEventParams):
            return None
        when = at or context.now
        try:
            event = Event(type=call.params.type, id=f"emit:{context.event.id}:{rule.id}"[:200], at=when,
                          source=f"rule:{rule.id}"[:100], data=call.params.data)
        except ValidationError as exc:  # e.g. a type longer than the event log stores
            why = params_error(exc).removeprefix("invalid params after rendering: ")
            raise CallPreparationError(f"the emitted event cannot be stored: {why}",
                                       code="invalid_params") from exc
        rules = self.ruleset.matcher.rules_for(event.type)
        if chain.depth + 1 > self.max_depth:
            shown = EventPreview(event.model_dump(mode="json"), [], chain.depth + 1)
            if rules:  # an event nobody listens to would stop anyway
                shown.stopped = f"not followed: depth limit {self.max_depth} reached"
            return shown
        return self._event(event, rules, when, _Chain(chain.depth + 1, chain.rules, chain.budget))


def _outputs(action: CompiledAction) -> tuple[str, ...]:
    return LOOP_OUTPUTS if action.loop is not None else action.spec.outputs

@dataclass
class _Clock:
    """The time the next step of a run would start, moved on by delays and holds."""

    at: datetime
    delayed: bool
