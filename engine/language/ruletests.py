"""Rule unit tests (``rules/tests/*.yaml``): events in, expected matches and actions out.

Each test runs through dry-run, so nothing is sent or written. A failure
carries the expected and actual values; the CLI shows them as a diff.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from engine.language.dryrun import ActionPreview, DryRun, EventPreview, RulePreview
from engine.language.events import Event
from engine.language.loader import display_name
from engine.language.problems import Problem, did_you_mean
from engine.language.validation import model_vocabulary, problems_from_validation_error
from engine.language.yamlsafe import Document, YamlInputError, load_file
from store.query_specs import QUERY_SPECS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExpectedAction(_Strict):
    rule: str
    action: str
    id: str | None = None
    params: dict[str, Any] = Field(default_factory=dict, description=(
        "Rendered values; a mapping is a subset at every depth (keys not given are not compared)"))
    text_contains: list[str] = Field(default_factory=list, description="Substrings of the message")
    preview: dict[str, Any] = Field(default_factory=dict, description="Preview fields, compared like params")


class Expectation(_Strict):
    match: list[str] = Field(default_factory=list)
    no_match: list[str] = Field(default_factory=list)
    actions: list[ExpectedAction] = Field(default_factory=list)


class RuleTestCase(_Strict):
    name: str
    event: Event | None = None
    events: list[Event] | None = None
    now: datetime | None = None
    records: dict[str, list[dict[str, Any]]] = Field(
        default_factory=dict, description="Rows each named query gives records.query, by query name")
    expect: Expectation

    @field_validator("records")
    @classmethod
    def _known_queries(cls, value: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
        for name, rows in value.items():
            spec = QUERY_SPECS.get(name)
            if spec is None:
                raise ValueError(f"unknown query '{name}' (known: {', '.join(sorted(QUERY_SPECS))})")
            if len(rows) > spec.max_rows:
                raise ValueError(f"{len(rows)} rows for '{name}', over its max_rows of {spec.max_rows}")
        return value

    @model_validator(mode="after")
    def _one_source_of_events(self) -> RuleTestCase:
        if (self.event is None) == (self.events is None):
            raise ValueError("give exactly one of 'event' or 'events'")
        return self

    def all_events(self) -> list[Event]:
        return [self.event] if self.event else list(self.events or [])


class RuleTestFile(_Strict):
    tests: list[RuleTestCase] = Field(min_length=1)


@dataclass
class Failure:
    message: str
    expected: Any = None
    actual: Any = None


@dataclass
class TestResult:
    name: str
    file: str
    line: int
    failures: list[Failure] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass
class TestReport:
    results: list[TestResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    @property
    def ok(self) -> bool:
        return not self.problems and self.failed == 0 and bool(self.results)


def discover_tests(paths: list[FsPath]) -> list[FsPath]:
    files: list[FsPath] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml")))
        elif path.is_file():
            files.append(path)
    return files


def run_tests(files: list[FsPath], dry_run: DryRun) -> TestReport:
    report = TestReport()
    for path in files:
        name = display_name(path)
        try:
            doc = load_file(path, display_name=name)
            suite = RuleTestFile.model_validate(doc.data)
        except YamlInputError as exc:
            report.problems.extend(exc.problems)
            continue
        except ValidationError as exc:
            vocabulary = model_vocabulary(RuleTestFile)
            report.problems.extend(problems_from_validation_error(exc, doc, (), vocabulary))
            continue
        for index, case in enumerate(suite.tests):
            report.results.append(_run_case(case, doc, index, dry_run))
    return report


def _run_case(case: RuleTestCase, doc: Document, index: int, dry_run: DryRun) -> TestResult:
    line, _ = doc.position(("tests", index))
    result = TestResult(case.name, doc.file, line)
    runner = dry_run.with_records(case.records) if case.records else dry_run
    previews = runner.run(case.all_events(), case.now)
    verdicts = _verdicts(previews)
    known = dry_run.ruleset.by_id
    for rule_id in case.expect.match:
        if rule_id not in known:
            result.failures.append(_unknown_rule(rule_id, "match", known))
        elif not known[rule_id].rule.enabled:
            result.failures.append(Failure(f"rule '{rule_id}' is disabled (enabled: false)"))
        elif not verdicts.get(rule_id, (False, None))[0]:
            result.failures.append(_did_not_match(rule_id, verdicts.get(rule_id)))
    for rule_id in case.expect.no_match:
        if rule_id not in known:
            result.failures.append(_unknown_rule(rule_id, "no_match", known))
        elif verdicts.get(rule_id, (False, None))[0]:
            result.failures.append(Failure(f"rule '{rule_id}' matched but should not"))
    actions = [a for p in previews for r in p.rules if r.matched for a in _tagged(r)]
    for expected in case.expect.actions:
        if expected.rule not in known:
            result.failures.append(_unknown_rule(expected.rule, "actions", known))
            continue
        result.failures.extend(_check_action(expected, actions))
    return result


def _unknown_rule(rule_id: str, where: str, known: dict[str, Any]) -> Failure:
    hint = did_you_mean(rule_id, known)
    return Failure(f"unknown rule '{rule_id}' in {where}" + (f" ({hint})" if hint else ""))


def _verdicts(previews: list[EventPreview]) -> dict[str, tuple[bool, RulePreview]]:
    verdicts: dict[str, tuple[bool, RulePreview]] = {}
    for preview in previews:
        for rule in preview.rules:
            if rule.matched or rule.id not in verdicts:
                verdicts[rule.id] = (rule.matched, rule)
    return verdicts


def _did_not_match(rule_id: str, verdict: tuple[bool, RulePreview] | None) -> Failure:
    if verdict is None:
        return Failure(f"rule '{rule_id}' did not match: it does not listen to the event type(s)")
    clauses = [
        f"{c.path}: {c.expression} -> {c.error or str(c.value).lower()}" for c in verdict[1].conditions
    ]
    return Failure(f"rule '{rule_id}' did not match", expected="all conditions true",
                   actual="\n".join(clauses))


def _tagged(rule: RulePreview) -> list[tuple[str, ActionPreview]]:
    # a for_each action counts as each of its calls
    return [(rule.id, call) for action in rule.actions
            for call in (action.items if action.items is not None else [action])]


def _check_action(expected: ExpectedAction, actions: list[tuple[str, ActionPreview]]) -> list[Failure]:
    """Nothing when one of the matching actions meets every expectation, else the first one's failures."""
    candidates = [
        a for rule_id, a in actions
        if rule_id == expected.rule and a.action == expected.action
        and (expected.id is None or a.id == expected.id)
    ]
    label = f"{expected.rule}: {expected.action}" + (f" ({expected.id})" if expected.id else "")
    if not candidates:
        return [Failure(f"{label}: no such action ran", expected=label,
                        actual=[f"{r}: {a.action}" for r, a in actions] or "no actions")]
    failures = [_compare(expected, candidate, label) for candidate in candidates]
    return [] if not all(failures) else failures[0]


def _compare(expected: ExpectedAction, action: ActionPreview, label: str) -> list[Failure]:
    if action.error or action.skipped:
        return [Failure(f"{label}: {action.error or 'skipped: ' + str(action.skipped)}")]
    failures = []
    params = action.params or {}
    if not contains(params, expected.params):
        failures.append(Failure(f"{label}: params differ", expected=_dump(expected.params),
                                actual=_dump(_shaped_like(params, expected.params))))
    if not contains(action.preview, expected.preview):
        failures.append(Failure(f"{label}: preview differs", expected=_dump(expected.preview),
                                actual=_dump(_shaped_like(action.preview, expected.preview))))
    text = "\n".join(str(action.preview.get(k, "")) for k in ("subject", "text", "html"))
    failures.extend(Failure(f"{label}: message text lacks {wanted!r}", expected=wanted, actual=text)
                    for wanted in expected.text_contains if wanted not in text)
    return failures


def contains(actual: Any, expected: Any) -> bool:
    """``expected`` holds in ``actual``: mappings as subsets at every depth, lists item by item."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and contains(actual[key], value) for key, value in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(
            contains(a, e) for a, e in zip(actual, expected, strict=True))
    return bool(actual == expected)


def _shaped_like(actual: Any, expected: Any) -> Any:
    """``actual`` cut to the keys ``expected`` names, so the diff shows only what was compared."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return {key: _shaped_like(actual[key], value) if key in actual else "<missing>"
                for key, value in expected.items()}
    if isinstance(expected, list) and isinstance(actual, list) and len(actual) == len(expected):
        return [_shaped_like(a, e) for a, e in zip(actual, expected, strict=True)]
    return actual


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
