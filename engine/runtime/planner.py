"""The planner: which rules an event starts, written as run and step rows in one transaction.

For each rule listening to the event: conditions (CEL), then the rule's
options in order — dedupe, throttle, mode, quiet hours — then a run with its
whole step tree, the first step queued. Nothing is sent from here; the
caller commits and then enqueues the queued steps (the database is the
outbox: a step that is queued but never enqueued is found by the reaper).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog
from sqlmodel import Session, col

from engine.language.conditions import (
    ClauseResult,
    ConditionEvaluationError,
    Node,
    failed_trace,
    held_trace,
)
from engine.language.context import EvaluationContext
from engine.language.events import Event
from engine.language.ruleset import CompiledRule
from engine.language.templating import TemplateRenderError
from engine.runtime.quiet_hours import QuietHold, quiet_hold
from engine.runtime.steps import NewStep, insert_steps, queue_new_step, step_rows
from engine.runtime.throttle import ThrottleCounter
from store.bulk import insert_rows
from store.durations import parse_duration
from store.models.runs import RuleRun
from store.run_lifecycle import RunStatus
from store.types import new_id

log = structlog.get_logger("despacho.planner")

ACTIVE_RUN_STATUSES = (RunStatus.PLANNED, RunStatus.RUNNING, RunStatus.HELD)
WAITING_REASON = "mode queued: waiting for the rule's active run"


@dataclass
class PlanResult:
    """What planning decided. Rows are plain dicts inserted with executemany: building ORM
    objects for every run and step was most of the relay's time."""

    runs: list[dict[str, Any]] = field(default_factory=list)
    new_runs: list[dict[str, Any]] = field(default_factory=list)  # inserted by ``write``
    steps: list[NewStep] = field(default_factory=list)  # inserted by ``write``
    queued: list[NewStep] = field(default_factory=list)
    ruleset_version: str | None = None  # recorded on every run planned into this result

    def write(self, session: Session) -> None:
        """Insert the runs and steps planned so far (runs first: the steps point at them)."""
        insert_rows(session, RuleRun.__table__, self.new_runs)
        insert_steps(session, self.steps)
        self.new_runs, self.steps = [], []


@dataclass
class Planner:
    config: dict[str, Any]
    throttle: ThrottleCounter
    timezone: str

    def plan(self, session: Session, event: Event, rules: list[CompiledRule], now: datetime,
             result: PlanResult | None = None, *, write: bool = True) -> PlanResult:
        """Plan one event; ``write=False`` leaves the step rows for one ``result.write`` per batch."""
        result = result or PlanResult()
        context = EvaluationContext(event, self.config, now)
        for rule in rules:
            self._plan_rule(session, event, rule, context, now, result)
        if write:
            result.write(session)
        return result

    def plan_many(self, session: Session, events: list[Event], rules: list[CompiledRule], now: datetime,
                  result: PlanResult) -> PlanResult:
        for event in events:
            self.plan(session, event, rules, now, result, write=False)
        result.write(session)
        return result

    def _plan_rule(self, session: Session, event: Event, rule: CompiledRule, context: EvaluationContext,
                   now: datetime, result: PlanResult) -> None:
        try:
            if rule.condition is not None and not rule.condition.holds(context.cel):
                return
            variables = context.for_actions(rule.id, {})
            dedupe = str(rule.dedupe_key.render(variables)) if rule.dedupe_key else None
            throttle = str(rule.throttle_key.render(variables)) if rule.throttle_key else None
        except (ConditionEvaluationError, TemplateRenderError) as exc:
            # A payload the rule cannot read is recorded, not silently taken as "no match".
            log.warning("rule_error", rule_id=rule.id, event_id=event.id, error=str(exc))
            trace = _trace(rule, context, failed=isinstance(exc, ConditionEvaluationError))
            self._add_run(session, result, rule, _run_row(rule, event, now, status=RunStatus.SKIPPED,
                                                          skip_reason=f"error: {exc}"[:500], trace=trace))
            return
        run = _run_row(rule, event, now, dedupe_key=dedupe, throttle_key=throttle,
                       trace=_trace(rule, context, failed=False))
        skip = self._skip_reason(session, rule, dedupe, throttle, now)
        if skip:
            run.update(status=RunStatus.SKIPPED, skip_reason=skip)
            self._add_run(session, result, rule, run)
            return
        waiting = rule.rule.mode == "queued" and self._has_active_run(session, rule.id)
        quiet = self._quiet(rule, event, now)
        if quiet is not None and quiet.dropped:
            run.update(status=RunStatus.SKIPPED, skip_reason=quiet.dropped)
            self._add_run(session, result, rule, run)
            return
        # a waiting run is released by its rule's active run; quiet hours are checked again then
        hold = quiet.until if quiet and not waiting else None
        reason = WAITING_REASON if waiting else quiet.reason if quiet else None
        run.update(status=RunStatus.HELD if waiting or hold else RunStatus.PLANNED, held_until=hold,
                   hold_reason=reason)
        self._add_run(session, result, rule, run)
        steps = step_rows(run["id"], rule.id, event.id, rule.actions, now)
        result.steps.extend(steps)
        if not waiting:
            first = steps[0]
            delay = rule.actions[0].delay
            not_before = max(filter(None, (hold, now + delay if delay else None)), default=None)
            queue_new_step(first, now, not_before)
            if hold is not None:
                first.row.update(hold_reason=reason)
                if rule.actions[0].delay_until is None:  # not_before set: delay_until was waited for
                    first.row.update(not_before=hold)
            result.queued.append(first)

    def _add_run(self, session: Session, result: PlanResult, rule: CompiledRule, run: dict[str, Any]) -> None:
        run["ruleset_version"] = result.ruleset_version
        result.runs.append(run)
        if _counts_its_runs(rule):
            # dedupe, throttle and modes query this rule's runs: the next event must see this one
            session.execute(sa.insert(RuleRun.__table__), [run])
        else:
            result.new_runs.append(run)

    def _skip_reason(self, session: Session, rule: CompiledRule, dedupe: str | None,
                     throttle: str | None, now: datetime) -> str | None:
        options = rule.rule
        if dedupe is not None and options.dedupe is not None:
            window = parse_duration(options.dedupe.window)
            if _exists(session, RuleRun.rule_id == rule.id, RuleRun.dedupe_key == dedupe,
                       RuleRun.created_at >= now - window, RuleRun.status != RunStatus.SKIPPED):
                return f"dedupe: key '{dedupe}' seen within {options.dedupe.window}"
        if throttle is not None and options.throttle is not None:
            per = parse_duration(options.throttle.per)
            if not self.throttle.allow(session, rule.id, throttle, options.throttle.limit, per, now):
                limit = f"{options.throttle.limit} per {options.throttle.per}"
                return f"throttle: {limit} reached for '{throttle}'"
        if options.mode == "single" and self._has_active_run(session, rule.id):
            return "mode single: a run of this rule is still active"
        return None

    def _has_active_run(self, session: Session, rule_id: str) -> bool:
        return _exists(session, col(RuleRun.rule_id) == rule_id, col(RuleRun.status).in_(ACTIVE_RUN_STATUSES))

    def _quiet(self, rule: CompiledRule, event: Event, now: datetime) -> QuietHold | None:
        quiet = rule.rule.quiet_hours
        return quiet_hold(quiet, event.data, now, self.timezone) if quiet is not None else None



def _counts_its_runs(rule: CompiledRule) -> bool:
    options = rule.rule
    return bool(options.dedupe or options.throttle or options.mode != "parallel")


def _run_row(rule: CompiledRule, event: Event, now: datetime, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": new_id(), "rule_id": rule.id, "event_id": event.id, "status": RunStatus.PLANNED,
        "skip_reason": None, "dedupe_key": None, "throttle_key": None, "context": {},
        "held_until": None, "created_at": now, "started_at": None, "finished_at": None,
        "trace": None,  # every row of one executemany has the same keys
    }
    row["hold_reason"] = None
    row.update(fields)
    return row


def _trace(rule: CompiledRule, context: EvaluationContext, *, failed: bool) -> dict[str, Any]:
    """What the rule's condition gave, per top-level condition (``rule_runs.trace``)."""
    node = rule.condition
    if node is None:
        return _NO_CONDITION
    if failed:
        return _trace_row(failed_trace(node, context.cel))
    # The same for every run of the rule: built once per condition, not once per run (the relay's
    # hot path), and shared by those rows, so never changed in place. The entry keeps its node
    # alive, so its id is not reused while cached.
    cached = _HELD_TRACES.get(id(node))
    if cached is None:
        if len(_HELD_TRACES) >= 4096:  # rule sets reloaded many times: start afresh
            _HELD_TRACES.clear()
        cached = _HELD_TRACES[id(node)] = (node, _trace_row(held_trace(node)))
    return cached[1]


def _trace_row(parts: list[ClauseResult]) -> dict[str, Any]:
    return {"conditions": [{"path": p.path, "condition": p.expression, "result": p.value, "error": p.error}
                           for p in parts]}


_NO_CONDITION: dict[str, Any] = {"conditions": []}
_HELD_TRACES: dict[int, tuple[Node, dict[str, Any]]] = {}


def _exists(session: Session, *conditions: Any) -> bool:
    # Rows added in this transaction count too: flush before asking.
    session.flush()
    query = sa.select(col(RuleRun.id)).where(*conditions).limit(1)
    return session.execute(query).first() is not None

