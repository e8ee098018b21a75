"""How the CLI shows the engine's results: problem lines, dry-run trees, test diffs, JUnit."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

from rich.markup import escape

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from engine.language.dryrun import ActionPreview, EventPreview, RulePreview
    from engine.language.problems import Problem
    from engine.language.ruletests import Failure, TestReport


def problem_line(problem: Problem) -> str:
    where = f"{problem.file}:{problem.line}:{problem.column}" if problem.line else problem.file
    path = f" {problem.path}:" if problem.path else ""
    hint = f" ({problem.hint})" if problem.hint else ""
    marker = " warning:" if problem.is_warning else ""
    return f"{where}:{path}{marker} {problem.message}{hint}"


def problems_summary(problems: list[Problem]) -> str:
    files = len({p.file for p in problems})
    warnings = sum(p.is_warning for p in problems)
    errors = len(problems) - warnings
    counted = f"{errors} problem{'s' if errors != 1 else ''}"
    if warnings:
        counted = f"{counted}, {warnings} warning{'s' if warnings != 1 else ''}" if errors else \
            f"{warnings} warning{'s' if warnings != 1 else ''}"
    return f"{counted} in {files} file{'s' if files != 1 else ''}"


def print_problems(console: Console, problems: Iterable[Problem]) -> None:
    for problem in sorted(problems):
        console.print(escape(problem_line(problem)), highlight=False, soft_wrap=True)


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def print_json(console: Console, value: Any) -> None:
    """``value`` as JSON, printed verbatim: a ``[`` in the data is not rich markup."""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=_json_default)
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _json_default(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime | date) else str(value)


_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def plain(text: str) -> str:
    """``text`` safe for one line of a terminal: control characters (an escape sequence from an
    event's payload, a newline faking the next line) and bidi overrides shown as ``\\uXXXX``."""
    return _UNPRINTABLE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def print_table(console: Console, table: Table) -> None:
    """A table for a person; piped or redirected, as wide as its cells so no id is cut or wrapped."""
    if console.is_terminal:
        console.print(table)
        return
    from rich.console import Console as Wide

    Wide(file=console.file, width=100_000, highlight=False, no_color=True).print(table)


# --- dry-run ----------------------------------------------------------------------------------

def print_previews(console: Console, previews: list[EventPreview], notes: Iterable[str] = ()) -> None:
    for note in notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
    for preview in previews:
        event = preview.event
        console.print(f"[bold]event[/] {escape(event['type'])} [dim]id={escape(event['id'])}[/]")
        _print_event_rules(console, preview, 2)
        console.print()


def _print_event_rules(console: Console, preview: EventPreview, indent: int) -> None:
    pad = " " * indent
    if preview.stopped:
        console.print(f"{pad}[yellow]{escape(preview.stopped)}[/]")
    elif not preview.rules and not preview.loops:
        console.print(f"{pad}[dim]no rule listens to this event type[/]")
    for loop in preview.loops:
        console.print(f"{pad}[red]loop: {escape(loop)}[/] [dim](not followed again)[/]")
    for rule in preview.rules:
        _print_rule(console, rule, indent)


def _print_rule(console: Console, rule: RulePreview, indent: int = 2) -> None:
    pad = " " * indent
    mark = "[green]matched[/]" if rule.matched else "[yellow]not matched[/]"
    console.print(f"{pad}rule [bold]{escape(rule.id)}[/] ({escape(rule.file)}:{rule.line}): {mark}")
    for clause in rule.conditions:
        value = f"[red]error: {escape(clause.error)}[/]" if clause.error else str(clause.value).lower()
        console.print(f"{pad}  {escape(clause.path)}: {escape(clause.expression)} -> {value}")
    for name, key in rule.keys.items():
        console.print(f"{pad}  {name} key: {escape(key)}")
    if rule.held_until:
        console.print(f"{pad}  [yellow]held by quiet hours until {_moment(rule.held_until)}[/]"
                      f" [dim]({escape(rule.hold_zone or '')})[/]")
    if rule.error:
        console.print(f"{pad}  [red]error: {escape(rule.error)}[/]")
    for action in rule.actions:
        _print_action(console, action, indent + 2)


def _moment(value: datetime) -> str:
    return value.isoformat(timespec="minutes")


def _print_action(console: Console, action: ActionPreview, indent: int) -> None:
    pad = " " * indent
    console.print(f"{pad}[cyan]{escape(action.action)}[/] [dim]({escape(action.id)})[/]")
    if action.runs_at and (action.delayed or action.held_until):
        why = "held by quiet hours" if action.held_until else "after its delay"
        console.print(f"{pad}  runs at {_moment(action.runs_at)} [dim]({why})[/]")
    for clause in action.conditions:
        console.print(f"{pad}  if {escape(clause.expression)} -> {clause.error or str(clause.value).lower()}")
    if action.skipped:
        console.print(f"{pad}  [yellow]skipped: {escape(action.skipped)}[/]")
        return
    if action.error:
        console.print(f"{pad}  [red]error: {escape(action.error)}[/]")
    for key, value in (action.params or {}).items():
        _print_value(console, f"{pad}  ", escape(key), value)
    for key, value in action.preview.items():
        if key == "html":
            value = f"({len(str(value))} characters of HTML)"
        _print_value(console, f"{pad}  ", f"[magenta]{escape(key)}[/]", value)
    for item in action.items or []:  # for_each: each call
        _print_action(console, item, indent + 4)
    if action.follow_up is not None:
        follow = action.follow_up
        console.print(f"{pad}  [bold]emits[/] {escape(follow.event['type'])}:")
        _print_event_rules(console, follow, indent + 4)
    if action.fallback:
        console.print(f"{pad}  fallback:")
        for fallback in action.fallback:
            _print_action(console, fallback, indent + 4)


def _print_value(console: Console, pad: str, label: str, value: Any) -> None:
    text = _short(value)
    if "\n" not in text:
        console.print(f"{pad}{label}: {escape(text)}")
        return
    console.print(f"{pad}{label}: |")
    for line in text.splitlines():
        console.print(f"{pad}    {escape(line)}")


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 2000 else text[:2000] + "…"


# --- rule tests -------------------------------------------------------------------------------

def print_report(console: Console, report: TestReport) -> None:
    print_problems(console, report.problems)
    for result in report.results:
        if result.passed:
            console.print(f"[green]PASS[/] {escape(result.name)}", highlight=False)
            continue
        console.print(f"[red]FAIL[/] {escape(result.name)} ({escape(result.file)}:{result.line})",
                      highlight=False)
        for failure in result.failures:
            console.print(f"  {escape(failure.message)}", highlight=False)
            for line in failure_diff(failure):
                console.print(f"    {escape(line)}", highlight=False)
    console.print(f"{report.passed} passed, {report.failed} failed")


def failure_diff(failure: Failure) -> list[str]:
    if failure.expected is None and failure.actual is None:
        return []
    expected = _lines(failure.expected)
    actual = _lines(failure.actual)
    return [line.rstrip("\n") for line in
            difflib.unified_diff(expected, actual, "expected", "actual", lineterm="")]


def _lines(value: Any) -> list[str]:
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
    return text.splitlines()


def write_junit(report: TestReport, path: FsPath) -> None:
    suite = ET.Element("testsuite", name="despacho rules", tests=str(len(report.results)),
                       failures=str(report.failed), errors=str(len(report.problems)))
    for problem in report.problems:
        case = ET.SubElement(suite, "testcase", name=problem_line(problem), classname=problem.file)
        ET.SubElement(case, "error", message=problem.message).text = problem_line(problem)
    for result in report.results:
        case = ET.SubElement(suite, "testcase", name=result.name, classname=result.file)
        for failure in result.failures:
            node = ET.SubElement(case, "failure", message=failure.message)
            node.text = "\n".join(failure_diff(failure))
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
