"""A loaded, compiled rule set: what the matcher, dry-run and planner work from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from connectors.base import ActionSpec
from engine.language.conditions import Node
from engine.language.models import CronTrigger, EventTrigger, EveryTrigger, RetryPolicy, Rule
from engine.language.templating import Value

DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True, slots=True)
class Loop:
    """An action's ``for_each``: where its list is, the item's name, and the group key if grouped."""

    source: str                 # as written, for messages
    path: tuple[str, ...]       # ("steps", "lookup", "rows")
    name: str = "item"
    group_by: Value | None = None


@dataclass(frozen=True, slots=True)
class CompiledAction:
    """One action of a rule, with its params compiled as templates."""

    key: str  # the explicit id, or the action's path within the rule ("do[1]")
    uses: str
    spec: ActionSpec
    params: Value
    condition: Node | None
    delay: timedelta | None
    retry: RetryPolicy
    fallback: tuple[CompiledAction, ...]
    explicit_id: bool
    reads_steps: bool = True  # its params or condition read steps.<id>: load earlier outputs
    delay_until: Value | None = None  # a time to wait until, rendered when the step is first due
    loop: Loop | None = None  # for_each: one call per item (or group), see engine.language.loops


@dataclass(frozen=True, slots=True)
class CompiledRule:
    rule: Rule
    file: str
    line: int
    order: int
    condition: Node | None
    actions: tuple[CompiledAction, ...]
    dedupe_key: Value | None
    throttle_key: Value | None

    @property
    def id(self) -> str:
        return self.rule.id

    @property
    def has_fallbacks(self) -> bool:
        return any(action.fallback for action in self.actions)

    @property
    def event_patterns(self) -> tuple[str, ...]:
        return tuple(t.event for t in self.rule.on if isinstance(t, EventTrigger))

    @property
    def schedules(self) -> tuple[CronTrigger | EveryTrigger, ...]:
        return tuple(t for t in self.rule.on if isinstance(t, CronTrigger | EveryTrigger))


@dataclass
class RuleSet:
    """Rules by id, in file order, with the event-type index built once."""

    rules: list[CompiledRule] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    # the git commit or content hash it was loaded from (engine/runtime/ruleversion.py); runs record it
    version: str = ""

    def __post_init__(self) -> None:
        from engine.language.matcher import Matcher

        self.by_id = {rule.id: rule for rule in self.rules}
        self.matcher = Matcher(rule for rule in self.rules if rule.rule.enabled)

    def __len__(self) -> int:
        return len(self.rules)
