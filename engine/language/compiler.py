"""From a parsed ``Rule`` to a ``CompiledRule``: the checks that need more than its shape.

CEL is compiled, action names and params are checked against the connector
registry, templates are compiled and their files looked up, ``steps.<id>``
references are resolved and ``for_each`` queries checked. Every problem is
located through the document's side map.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from connectors.base import ActionSpec
from connectors.http import HttpSettings, check_url
from connectors.messaging.attachments import static_path_problem
from connectors.messaging.headers import ADDRESS_FIELDS, parse_address
from connectors.registry import all_actions
from connectors.sms import text_preview
from engine.language.catalogue import Catalogue
from engine.language.conditions import (
    ACTION_VARIABLES,
    RULE_VARIABLES,
    ConditionSyntaxError,
    Node,
    compile_condition,
)
from engine.language.filters import parse_time
from engine.language.models import ACTION_OPTION_KEYS, Action, EventTrigger, Rule
from engine.language.problems import Path, Problem, did_you_mean
from engine.language.reads import ReadChecker
from engine.language.ruleset import DEFAULT_RETRY, CompiledAction, CompiledRule, Loop
from engine.language.template_samples import check_sample
from engine.language.templating import (
    TEMPLATE_VARIABLES,
    Literal,
    MappingValue,
    TemplateProblem,
    TemplateStore,
    Value,
    compile_value,
    is_template,
    value_references,
)
from engine.language.urls import static_url
from engine.language.validation import problems_from_validation_error
from engine.language.yamlsafe import Document
from errors import PermanentError
from store.durations import parse_duration
from store.query_specs import QUERY_SPECS

ACTIONS = all_actions()
_STEPS_IN_CEL = re.compile(r"\bsteps\.([A-Za-z_]\w*)")
# for_each: a dotted path, bare or as "{{ path }}"
_LOOP_PATH = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*){0,7}"
_LOOP_SOURCE = re.compile(rf"\s*(?:({_LOOP_PATH})|\{{\{{\s*({_LOOP_PATH})\s*\}}\}})\s*")


@dataclass
class RuleCompiler:
    """Compiles the rules of one document; problems accumulate in ``problems``."""

    doc: Document
    templates: TemplateStore
    problems: list[Problem] = field(default_factory=list)
    # the settings static URLs are judged by; None (rule tests, tools without a config): not judged
    http_settings: HttpSettings | None = None
    # the event types rules may listen to; None: 'on:' types and data paths are not checked
    catalogue: Catalogue | None = None
    _reads: ReadChecker = field(init=False)

    def __post_init__(self) -> None:
        self._reads = ReadChecker(self.doc, self.problems, self.catalogue)

    def compile(self, rule: Rule, path: Path, order: int, *, whole: bool = True) -> CompiledRule | None:
        """The compiled rule, or None when it has errors (warnings are reported and kept).

        ``whole=False``: a rule whose shape had errors, rebuilt from the parts that parsed, and
        some of its triggers did not: its data is unknown, so no data path is judged.
        """
        first = len(self.problems)
        self._check_triggers(rule, path)
        triggers = [(self._trigger_path(path, index), trigger) for index, trigger in enumerate(rule.on)]
        self._reads.start(triggers, known_data=whole)
        condition = self._condition(rule.if_, (*path, "if"), RULE_VARIABLES)
        actions = self._actions(rule.do, (*path, "do"), known_steps=())
        dedupe = self._key_template(rule.dedupe.key if rule.dedupe else None, (*path, "dedupe"))
        throttle = self._key_template(rule.throttle.key if rule.throttle else None,
                                      (*path, "throttle", "key"))
        if any(not problem.is_warning for problem in self.problems[first:]):
            return None
        line, _ = self.doc.position(path)
        return CompiledRule(rule, self.doc.file, line, order, condition, actions, dedupe, throttle)

    # --- triggers --------------------------------------------------------------------------------

    def _check_triggers(self, rule: Rule, path: Path) -> None:
        for index, trigger in enumerate(rule.on):
            if isinstance(trigger, EventTrigger) or trigger.for_each is None:
                continue
            where = self._trigger_path(path, index)
            spec = QUERY_SPECS.get(trigger.for_each)
            if spec is None:
                hint = did_you_mean(trigger.for_each, QUERY_SPECS) or (
                    "known queries: " + ", ".join(sorted(QUERY_SPECS)))
                self.problems.append(self.doc.problem((*where, "for_each"),
                                                      f"unknown query '{trigger.for_each}'", hint))
                continue
            try:
                spec.params.model_validate(trigger.params)
            except ValidationError as exc:
                self.problems.extend(problems_from_validation_error(
                    exc, self.doc, (*where, "params"), spec.params.model_fields))

    def _trigger_path(self, path: Path, index: int) -> Path:
        on = self.doc.data
        for part in (*path, "on"):
            on = on[part]
        return (*path, "on", index) if isinstance(on, list) else (*path, "on")

    # --- conditions and templates -----------------------------------------------------------------

    def _condition(self, condition: Any, path: Path, allowed: frozenset[str]) -> Node | None:
        if condition is None:
            return None
        errors: list[tuple[Path, ConditionSyntaxError]] = []
        node = compile_condition(condition, path, allowed, errors)
        for where, exc in errors:
            self.problems.append(self.doc.problem(where, str(exc), exc.hint))
        self._reads.condition(condition, path, failed={where for where, _ in errors})
        return node

    def _key_template(self, source: str | None, path: Path) -> Value | None:
        if source is None:
            return None
        self._reads.template(source, path)
        value, steps = self._compile_value(source, path)
        if steps:
            self.problems.append(self.doc.problem(path, "a rule key cannot read steps.<id>",
                                                  "keys are computed before any action runs"))
        return value

    def _compile_value(self, raw: Any, path: Path, extra: frozenset[str] = frozenset()
                       ) -> tuple[Value, frozenset[str]]:
        """The compiled value and the step ids it reads; ``extra``: variables besides the usual ones."""
        errors: list[tuple[Path, TemplateProblem]] = []
        value = compile_value(raw, path, errors)
        for where, exc in errors:
            self.problems.append(self.doc.problem(where, str(exc)))
        if isinstance(value, Literal):
            return value, frozenset()
        refs = value_references(value)
        if not errors:
            known = TEMPLATE_VARIABLES | extra
            unknown = sorted(refs.variables - known)
            for name in unknown:
                allowed = ", ".join(sorted(known))
                self.problems.append(self.doc.problem(
                    path, f"unknown variable '{name}' in template",
                    did_you_mean(name, known) or f"templates can use: {allowed}"))
        return value, refs.steps

    # --- actions ----------------------------------------------------------------------------------

    def _actions(self, actions: list[Action], path: Path, known_steps: tuple[str, ...]
                 ) -> tuple[CompiledAction, ...]:
        compiled = []
        known = list(known_steps)
        for index, action in enumerate(actions):
            where = (*path, index)
            if action.id and action.uses in ACTIONS:
                self._reads.add_step(action.id, action.uses, ACTIONS[action.uses])  # its fallback may read it
            result = self._action(action, where, tuple(known))
            if action.id:
                if action.id in known:
                    self.problems.append(self.doc.problem((*where, "id"),
                                                          f"step id '{action.id}' is used twice"))
                known.append(action.id)
            if result is not None:
                compiled.append(result)
        return tuple(compiled)

    def _action(self, action: Action, path: Path, known_steps: tuple[str, ...]) -> CompiledAction | None:
        spec = ACTIONS.get(action.uses)
        if spec is None:
            hint = did_you_mean(action.uses, [*ACTIONS, *ACTION_OPTION_KEYS])
            self.problems.append(self.doc.problem((*path, action.uses),
                                                  f"unknown action '{action.uses}'", hint, key=True))
            return None
        params_path = (*path, action.uses)
        loop, loop_steps = self._loop(action, path, known_steps)
        loop_names = _loop_names(action)
        self._check_params(spec, action.params, params_path, loop_names)
        self._check_urls(spec, action.params, params_path)
        self._check_literal(spec, action.params, params_path)
        params, params_steps = self._compile_params(action.params, params_path, known_steps, loop_names)
        condition_steps = _cel_steps(action.if_) if action.if_ is not None else set()
        delay_until, until_steps = self._delay_until(action.delay_until, (*path, "delay_until"), known_steps)
        # a message template file is read when the step runs, not here: it may use steps.<id> of any
        # earlier step (rules/accounting.yaml's invoice_issued shows the charge's PIX code)
        template_steps = bool(known_steps) and isinstance(action.params, dict) and "template" in action.params
        reads_steps = bool(params_steps or condition_steps or until_steps or loop_steps or template_steps)
        condition = self._condition(action.if_, (*path, "if"), ACTION_VARIABLES | loop_names)
        if action.if_ is not None:
            self._check_steps(condition_steps, known_steps, (*path, "if"))
        own = (action.id,) if action.id else ()
        fallback = self._actions(action.fallback, (*path, "fallback"), (*known_steps, *own))
        return CompiledAction(
            key=action.id or _path_key(path),
            uses=action.uses,
            spec=spec,
            params=params,
            condition=condition,
            delay=parse_duration(action.delay) if action.delay else None,
            retry=action.retry or DEFAULT_RETRY,
            fallback=fallback,
            explicit_id=action.id is not None,
            reads_steps=reads_steps,
            delay_until=delay_until,
            loop=loop,
        )

    def _delay_until(self, source: str | None, path: Path, known_steps: tuple[str, ...]
                     ) -> tuple[Value | None, frozenset[str]]:
        """A template is checked when the step is due; a literal time now."""
        if source is None:
            return None, frozenset()
        value, steps = self._compile_value(source, path)
        if steps:
            self._check_steps(steps, known_steps, path)
        if isinstance(value, Literal):
            try:
                parse_time(value.value, "UTC")
            except ValueError as exc:
                self.problems.append(self.doc.problem(path, f"delay_until: {exc}"))
        return value, steps

    def _loop(self, action: Action, path: Path, known_steps: tuple[str, ...]) -> tuple[Loop | None, set[str]]:
        """The compiled ``for_each`` and the steps it reads; ``as``/``group_by`` need a ``for_each``."""
        if action.for_each is None:
            for option, value in (("as", action.as_), ("group_by", action.group_by)):
                if value is not None:
                    self.problems.append(self.doc.problem((*path, option), f"'{option}' needs 'for_each'",
                                                          "add for_each: with the list to go through"))
            return None, set()
        found = _LOOP_SOURCE.fullmatch(action.for_each)
        if found is None:
            self.problems.append(self.doc.problem(
                (*path, "for_each"), f"for_each '{action.for_each}' is not a path to a list",
                "write a dotted path such as steps.lookup.rows or data.items"))
            return None, set()
        parts = tuple((found.group(1) or found.group(2)).split("."))
        if parts[0] not in TEMPLATE_VARIABLES:
            self.problems.append(self.doc.problem(
                (*path, "for_each"), f"unknown variable '{parts[0]}' in for_each",
                did_you_mean(parts[0], TEMPLATE_VARIABLES) or "use steps.<id>..., data... or config..."))
            return None, set()
        steps = {parts[1]} if parts[0] == "steps" and len(parts) > 1 else set()
        self._check_steps(steps, known_steps, (*path, "for_each"))
        name = action.as_ or "item"
        if name in TEMPLATE_VARIABLES or name == "group":
            self.problems.append(self.doc.problem((*path, "as"), f"'{name}' is a variable already",
                                                  "pick another name, e.g. item"))
        group_by = None
        if action.group_by is not None:
            group_by, group_steps = self._compile_value(action.group_by, (*path, "group_by"),
                                                        frozenset({name}))
            self._check_steps(group_steps, known_steps, (*path, "group_by"))
            steps |= group_steps
        return Loop(action.for_each, parts, name, group_by), steps

    def _check_literal(self, spec: ActionSpec, params: dict[str, Any], path: Path) -> None:
        for name in spec.literal_params:
            value = params.get(name)
            if isinstance(value, str) and is_template(value):
                self.problems.append(self.doc.problem(
                    (*path, name), f"'{name}' must be written out, not a template",
                    "event data must not choose it: write one action per choice, each with its own 'if'"))

    def _compile_params(self, raw: dict[str, Any], path: Path, known_steps: tuple[str, ...],
                        extra: frozenset[str] = frozenset()) -> tuple[Value, set[str]]:
        """The compiled params and the step ids they read; ``extra``: a loop's variables."""
        items = []
        read: set[str] = set()
        for key, value in raw.items():
            self._reads.template(value, (*path, key))
            compiled, steps = self._compile_value(value, (*path, key), extra)
            if steps:
                self._check_steps(steps, known_steps, (*path, key))
                read |= steps
            items.append((key, compiled))
        return MappingValue(tuple(items)), read

    def _check_params(self, spec: ActionSpec, params: dict[str, Any], path: Path,
                      extra: frozenset[str] = frozenset()) -> None:
        try:
            spec.params.model_validate(params)
        except ValidationError as exc:
            vocabulary = [info.alias or name for name, info in spec.params.model_fields.items()]
            found = problems_from_validation_error(exc, self.doc, path, vocabulary,
                                                   skip=_is_templated_input)
            self.problems.extend(found)
            if found:
                return
        template = params.get("template")
        if spec.channel and isinstance(template, str):
            self._check_template(spec.channel, template, (*path, "template"), params, extra)
        body = params.get("body")
        if spec.channel == "sms" and isinstance(body, str) and not is_template(body):
            self._check_segments(body, params, (*path, "body"))
        if "attachments" in spec.params.model_fields:
            self._check_attachments(params.get("attachments"), (*path, "attachments"))
        if spec.channel == "email":
            self._check_addresses(params, path)

    def _check_segments(self, body: str, params: dict[str, Any], path: Path) -> None:
        """A literal SMS body is known now: over its max_segments, every send would be refused."""
        limit = params.get("max_segments", 1)
        transliterate = params.get("transliterate", False) is True
        if not isinstance(limit, int):
            return
        preview = text_preview(body, max_segments=limit, translit=transliterate)
        if preview["segments"] <= limit:
            return
        hint = ("shorten the text or raise max_segments" if transliterate or preview["encoding"] == "GSM-7"
                else "shorten the text, or set transliterate: true to stay in GSM-7")
        self.problems.append(self.doc.problem(
            path, f"this body is {preview['segments']} SMS segments ({preview['encoding']}, "
                  f"{preview['length']} characters), over max_segments={limit}", hint))

    def _check_addresses(self, params: dict[str, Any], path: Path) -> None:
        """Literal addresses now (one per item, no control characters); rendered ones when sent."""
        for key in ADDRESS_FIELDS:
            value = params.get(key)
            found: list[tuple[Path, Any]] = [((key,), value)] if isinstance(value, str) else []
            if isinstance(value, list):
                found = [((key, index), item) for index, item in enumerate(value)]
            for where, item in found:
                if not isinstance(item, str) or not item.strip() or is_template(item):
                    continue
                try:
                    parse_address(item, key)
                except PermanentError as exc:
                    self.problems.append(self.doc.problem((*path, *where), str(exc).removeprefix(f"{key}: ")))

    def _check_attachments(self, attachments: Any, path: Path) -> None:
        """Literal paths now; rendered ones are checked against the folders when the step runs."""
        for index, item in enumerate(attachments if isinstance(attachments, list) else []):
            problem = static_path_problem(item) if isinstance(item, str) and not is_template(item) else None
            if problem is not None:
                self.problems.append(self.doc.problem((*path, index), problem,
                                                      "put the file in the attachments folder and name it "
                                                      "relative to it"))

    def _check_urls(self, spec: ActionSpec, params: dict[str, Any], path: Path) -> None:
        if self.http_settings is None:
            return
        for name in spec.url_params:
            url = static_url(params.get(name))
            if url is None:
                continue
            try:
                check_url(url, self.http_settings)
            except PermanentError as exc:
                self.problems.append(self.doc.problem((*path, name), str(exc)))

    def _check_template(self, channel: str, name: str, path: Path, params: dict[str, Any],
                        extra: frozenset[str] = frozenset()) -> None:
        if "{" in name:
            self.problems.append(self.doc.problem(path, "a template name must be literal",
                                                  "write the name of a file under templates/"))
            return
        found = self.templates.check(channel, name, extra)
        for problem in found:
            if problem.file:
                self.problems.append(Problem(problem.file, problem.line, 1, "", str(problem)))
            else:
                hint = did_you_mean(name, self.templates.names(channel))
                self.problems.append(self.doc.problem(path, str(problem), hint))
        if found:
            return
        sample = check_sample(self.templates, channel, name, max_segments=params.get("max_segments", 1),
                              transliterate=bool(params.get("transliterate", False)))
        for sample_problem in sample.problems:
            # Segment problems belong to the rule that sends; file problems to the sample file.
            self.problems.append(sample_problem if sample_problem.file else
                                 self.doc.problem(path, sample_problem.message, sample_problem.hint))

    def _check_steps(self, used: frozenset[str] | set[str], known: tuple[str, ...], path: Path) -> None:
        for step in sorted(used):
            if step not in known:
                hint = did_you_mean(step, known) or (
                    "only earlier actions with an 'id' can be read" if not known
                    else "earlier step ids: " + ", ".join(known))
                self.problems.append(self.doc.problem(path, f"unknown step 'steps.{step}'", hint))


def _loop_names(action: Action) -> frozenset[str]:
    """The variables a for_each action's params and template see besides the usual ones."""
    if action.for_each is None:
        return frozenset()
    return frozenset({"group"}) if action.group_by is not None else frozenset({action.as_ or "item"})


def _is_templated_input(item: dict[str, Any]) -> bool:
    """A templated string can only be checked once rendered (dry-run and execution do)."""
    value = item.get("input")
    return isinstance(value, str) and is_template(value) and item["type"] not in ("extra_forbidden",)


def _cel_steps(condition: Any) -> set[str]:
    found: set[str] = set()
    pending = [condition]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            found.update(_STEPS_IN_CEL.findall(item))
        elif isinstance(item, list):
            pending.extend(item)
        else:
            pending.extend(getattr(item, name) for name in ("all", "any", "not_") if hasattr(item, name))
    return found


def _path_key(path: Path) -> str:
    from engine.language.problems import format_path

    # Drop the leading "rules[n]." so keys read "do[1]" or "do[0].fallback[0]".
    return format_path(path[2:])
