"""Checking what a rule reads: ``on:`` types and ``data.*`` against the catalogue, ``steps.<id>.<output>``.

An output an action does not declare is an error (the step can never have it). An
``on:`` type nothing emits or declares, and a data path its payload does not have,
are warnings: another system may post events despacho has never seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connectors.base import ActionSpec
from engine.language.catalogue import Catalogue
from engine.language.datapaths import find_gap
from engine.language.models import AllOf, AnyOf, EventTrigger, NotOf, Trigger
from engine.language.problems import Path, Problem, Severity, did_you_mean
from engine.language.references import DataPath, cel_paths, template_paths
from engine.language.templating import is_template
from engine.language.yamlsafe import Document

UNDECLARED_HINT = "declare it under 'events:' in a rule file if another system posts it"


@dataclass
class ReadChecker:
    """The reads of one rule at a time (``start``); problems go to the compiler's list."""

    doc: Document
    problems: list[Problem]
    catalogue: Catalogue | None = None
    # the schemas of the data the rule's events carry; None: unknown, data paths are not judged
    data_schemas: list[dict[str, Any]] | None = field(default=None, init=False)
    steps: dict[str, tuple[str, ActionSpec]] = field(default_factory=dict, init=False)

    def start(self, triggers: list[tuple[Path, Trigger]], *, known_data: bool) -> None:
        """A new rule: its triggers, with where each is; ``known_data=False`` when some did not parse."""
        self.steps = {}
        self.data_schemas = self._event_schemas(triggers) if self.catalogue is not None else None
        if not known_data:
            self.data_schemas = None

    def add_step(self, step_id: str, action: str, spec: ActionSpec) -> None:
        self.steps.setdefault(step_id, (action, spec))

    def template(self, raw: Any, path: Path) -> None:
        """Every template string inside a param (or a key) ``raw``."""
        if not self._matters():
            return
        pending: list[tuple[Path, Any]] = [(path, raw)]
        while pending:
            where, value = pending.pop()
            if isinstance(value, str) and is_template(value):
                self._check(template_paths(value), where)
            elif isinstance(value, dict):
                pending.extend(((*where, k), v) for k, v in value.items())
            elif isinstance(value, list):
                pending.extend(((*where, i), v) for i, v in enumerate(value))

    def condition(self, condition: Any, path: Path, failed: set[Path]) -> None:
        """Every CEL expression of a parsed condition but those that did not compile (``failed``)."""
        if not self._matters():
            return
        for where, expression in _expressions(condition, path):
            if where not in failed:
                self._check(cel_paths(expression), where)

    def _matters(self) -> bool:
        return self.data_schemas is not None or bool(self.steps)

    def _event_schemas(self, triggers: list[tuple[Path, Trigger]]) -> list[dict[str, Any]] | None:
        assert self.catalogue is not None
        schemas: list[dict[str, Any]] | None = []
        for where, trigger in triggers:
            if not isinstance(trigger, EventTrigger):
                schemas = None  # a schedule's data are its query's rows
                continue
            found = self.catalogue.matching(trigger.event)
            if not found:
                event = trigger.event
                wanted = f"matches '{event}'" if "*" in event else f"has type '{event}'"
                hint = self.catalogue.suggest(event) or UNDECLARED_HINT
                self._warn(where, f"no known event {wanted}", hint)
                schemas = None
            elif schemas is not None:
                schemas.extend(event.schema for event in found)
        return schemas

    def _check(self, paths: tuple[DataPath, ...], where: Path) -> None:
        for read in dict.fromkeys(paths):
            if read[0] == "steps" and len(read) > 2:
                self._output(read, where)
            elif read[0] == "data" and self.data_schemas is not None:
                self._data(read, self.data_schemas, where)

    def _output(self, read: DataPath, where: Path) -> None:
        step = self.steps.get(read[1])
        if step is None or read[2] in step[1].outputs:
            return  # an unknown step is the compiler's to report
        action, spec = step
        outputs = ", ".join(spec.outputs)
        hint = did_you_mean(read[2], spec.outputs) or (f"its outputs: {outputs}" if outputs
                                                         else "it declares no outputs")
        self.problems.append(self.doc.problem(where, f"step '{read[1]}' ({action}) has no output '{read[2]}'",
                                              hint))

    def _data(self, read: DataPath, schemas: list[dict[str, Any]], where: Path) -> None:
        gap = find_gap(schemas, read[1:])
        if gap is None:
            return
        missing = read[gap.depth + 1]
        if gap.scalar:
            parent = ".".join(read[:gap.depth + 1])
            self._warn(where, f"'{parent}' is a {gap.scalar}: it has no field '{missing}'", None)
            return
        hint = did_you_mean(missing, gap.known) or (
            "the payload has: " + ", ".join(gap.known) if gap.known else None)
        shown = ".".join(read[:gap.depth + 2])
        self._warn(where, f"'{shown}' is not in the data of the events this rule listens to", hint)

    def _warn(self, path: Path, message: str, hint: str | None) -> None:
        self.problems.append(self.doc.problem(path, message, hint, severity=Severity.warning))


def _expressions(condition: Any, path: Path) -> list[tuple[Path, str]]:
    """Every CEL expression of a parsed condition, with the path ``compile_condition`` gives it."""
    if isinstance(condition, str):
        return [(path, condition)]
    if isinstance(condition, list):
        return [found for i, c in enumerate(condition) for found in _expressions(c, (*path, i))]
    if isinstance(condition, AllOf | AnyOf):
        key = "all" if isinstance(condition, AllOf) else "any"
        items = condition.all if isinstance(condition, AllOf) else condition.any
        return [found for i, c in enumerate(items) for found in _expressions(c, (*path, key, i))]
    if isinstance(condition, NotOf):
        return _expressions(condition.not_, (*path, "not"))
    return []
