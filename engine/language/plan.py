"""``despacho plan``: the same events against two rule sets, and what the actions would do differently.

Each event is dry-run against the base rule set (a git ref) and the head rule
set (the working tree) as of the time it happened. Per rule, the actions each
would start are paired (by action name and occurrence: the second
``sms.send`` with the second ``sms.send``) and compared as data: rendered
params, what the connector would do with them (the rendered message, so a
template change shows), errors, and when they would run. The report keeps counts and a few
examples per kind, so memory stays bounded however many events are replayed.
Nothing is sent and nothing is written: this is dry-run (``plan()``) only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from engine.language.dryrun import ActionPreview, DryRun, EventPreview
from engine.language.events import Event
from engine.language.ruleset import CompiledRule
from store.reserved_events import SCHEDULE_EVENT_TYPE, SCHEDULE_SOURCE

Kind = Literal["added", "removed", "changed"]
KINDS: tuple[Kind, ...] = ("added", "removed", "changed")
DEFAULT_EXAMPLES = 3


@dataclass(frozen=True)
class PlannedAction:
    """One action a rule would start for one event, as data that can be compared."""

    key: str                 # the step id, or its path in the rule (do[1])
    action: str              # CONNECTOR.ACTION
    params: dict[str, Any] | None
    error: str | None
    runs_at: str | None      # ISO time, when a delay or quiet hours move it
    preview: dict[str, Any] = field(default_factory=dict)  # what the connector would do: message text...

    def fields(self) -> dict[str, Any]:
        return {"params": self.params, "preview": self.preview, "error": self.error, "runs_at": self.runs_at}


@dataclass
class ActionChange:
    kind: Kind
    event_id: str
    event_type: str
    action: str
    key: str
    before: PlannedAction | None
    after: PlannedAction | None
    diff: dict[str, dict[str, Any]] = field(default_factory=dict)  # field path -> {before, after}


@dataclass
class RuleChanges:
    rule_id: str
    counts: dict[Kind, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    examples: dict[Kind, list[ActionChange]] = field(default_factory=lambda: {k: [] for k in KINDS})

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        counts: dict[str, Any] = {str(kind): count for kind, count in self.counts.items()}
        return {"rule_id": self.rule_id, **counts, "total": self.total,
                "examples": {kind: [asdict(c) for c in found] for kind, found in self.examples.items()}}


@dataclass
class PlanReport:
    events: int = 0
    rules: dict[str, RuleChanges] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(changes.total for changes in self.rules.values())

    def to_dict(self) -> dict[str, Any]:
        rules = [changes.to_dict() for changes in sorted(self.rules.values(), key=lambda c: c.rule_id)]
        return {"events": self.events, "changed": self.changed, "rules": rules}


def plan(events: Iterable[Event], base: DryRun, head: DryRun, *,
         examples: int = DEFAULT_EXAMPLES) -> PlanReport:
    """Replay ``events`` against both rule sets; each event evaluated as of its own time."""
    report = PlanReport()
    for event in events:
        report.events += 1
        before = planned_actions(base.preview_rules(event, rules_for(base, event), event.at))
        after = planned_actions(head.preview_rules(event, rules_for(head, event), event.at))
        for rule_id in sorted(before.keys() | after.keys()):
            for change in diff_actions(event, before.get(rule_id, []), after.get(rule_id, [])):
                _record(report, rule_id, change, examples)
    return report


def rules_for(dry_run: DryRun, event: Event) -> list[CompiledRule]:
    """The rules a stored event started: by type, or for a schedule fire, the rule that fired.

    The scheduler stores each evaluation as ``<rule>@<time>`` (``#<row>`` for a ``for_each``
    row); the fire of a ``for_each`` rule is stored too, with the row count, and starts nothing.
    """
    if event.type != SCHEDULE_EVENT_TYPE or event.source != SCHEDULE_SOURCE:
        return dry_run.ruleset.matcher.rules_for(event.type)
    if "#" not in event.id and "for_each" in event.data:
        return []
    rule = dry_run.ruleset.by_id.get(event.id.split("@", 1)[0])
    return [rule] if rule is not None and rule.rule.enabled and rule.schedules else []


def planned_actions(preview: EventPreview) -> dict[str, list[PlannedAction]]:
    """The actions each matched rule would start (skipped ones start nothing)."""
    return {rule.id: [_planned(a) for a in rule.actions if a.skipped is None]
            for rule in preview.rules if rule.matched}


def _planned(action: ActionPreview) -> PlannedAction:
    moved = action.runs_at is not None and (action.delayed or action.held_until is not None)
    runs_at = action.runs_at.isoformat() if moved and action.runs_at else None
    return PlannedAction(action.id, action.action, action.params, action.error, runs_at, action.preview)


def diff_actions(event: Event, before: list[PlannedAction], after: list[PlannedAction]) -> list[ActionChange]:
    """Pair the actions of one rule for one event and say what was added, removed or changed."""
    changes: list[ActionChange] = []
    old, new = _by_occurrence(before), _by_occurrence(after)
    for slot in [*old, *(s for s in new if s not in old)]:
        was, now = old.get(slot), new.get(slot)
        if was is None and now is not None:
            changes.append(ActionChange("added", event.id, event.type, now.action, now.key, None, now))
        elif now is None and was is not None:
            changes.append(ActionChange("removed", event.id, event.type, was.action, was.key, was, None))
        elif was is not None and now is not None:
            diff = diff_values(was.fields(), now.fields())
            if diff:
                changes.append(ActionChange("changed", event.id, event.type, now.action, now.key, was, now,
                                            diff))
    return changes


def _by_occurrence(actions: list[PlannedAction]) -> dict[tuple[str, int], PlannedAction]:
    seen: dict[str, int] = {}
    slots: dict[tuple[str, int], PlannedAction] = {}
    for action in actions:
        index = seen.get(action.action, 0)
        seen[action.action] = index + 1
        slots[(action.action, index)] = action
    return slots


def diff_values(before: Any, after: Any, path: str = "") -> dict[str, dict[str, Any]]:
    """Leaf differences between two JSON-like values, keyed by their path (``params.to``)."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: dict[str, dict[str, Any]] = {}
        for key in [*before, *(k for k in after if k not in before)]:
            sub = f"{path}.{key}" if path else str(key)
            out.update(diff_values(before.get(key, _ABSENT), after.get(key, _ABSENT), sub))
        return out
    if before == after and type(before) is type(after):
        return {}
    # A side that is absent is left out, so it reads apart from an explicit null.
    sides = {"before": before, "after": after}
    return {path: {side: value for side, value in sides.items() if value is not _ABSENT}}


_ABSENT = object()


def _record(report: PlanReport, rule_id: str, change: ActionChange, examples: int) -> None:
    changes = report.rules.setdefault(rule_id, RuleChanges(rule_id))
    changes.counts[change.kind] += 1
    kept = changes.examples[change.kind]
    if len(kept) < examples:
        kept.append(change)
