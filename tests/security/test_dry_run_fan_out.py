"""Rules that emit many events, each started by many rules: dry-run evaluates a bounded number.

Three levels of 10 emits, each matched by 10 rules, would be 10**6 rule evaluations; the preview
of one event stops after ``MAX_FOLLOWED`` rule evaluations for emitted events and says so where.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from engine.language.dryrun import MAX_FOLLOWED, DryRun, EventPreview
from engine.language.events import Event
from engine.language.loader import load_ruleset
from engine.language.templating import TemplateStore
from tests.conftest import write

AT = datetime(2026, 12, 1, tzinfo=UTC)


def fan_out_rules(width: int) -> str:
    emits = "".join("      - event.emit: {type: x.fan}\n" for _ in range(width))
    rules = [f"  - id: r{i}\n    on: x.fan\n    do:\n{emits}" for i in range(width)]
    return "rules:\n  - id: start\n    on: x.start\n    do:\n" + emits + "".join(rules)


def followed(preview: EventPreview) -> tuple[int, int]:
    """(rules evaluated for emitted events, emitted events stopped by the budget), all levels."""
    evaluated = stopped = 0
    for rule in preview.rules:
        for action in rule.actions:
            nested = action.follow_up
            if nested is None:
                continue
            evaluated += len(nested.rules)
            stopped += bool(nested.stopped and "over" in nested.stopped)
            a, b = followed(nested)
            evaluated, stopped = evaluated + a, stopped + b
    return evaluated, stopped


def dry_run(project: Path) -> DryRun:
    write(project / "rules/r.yaml", fan_out_rules(10))
    return DryRun(load_ruleset(["rules"], "templates"), TemplateStore("templates"), {})


def test_fan_out_is_bounded_per_event_and_says_where_it_stopped(project: Path) -> None:
    started = time.perf_counter()
    (preview,) = dry_run(project).run([Event(type="x.start")], AT)
    assert time.perf_counter() - started < 60  # unbounded, this would not end
    evaluated, stopped = followed(preview)
    assert evaluated == MAX_FOLLOWED and stopped > 0


def test_budget_is_per_given_event(project: Path) -> None:
    first, second = dry_run(project).run([Event(type="x.start"), Event(type="x.start")], AT)
    assert followed(first)[0] == followed(second)[0] == MAX_FOLLOWED
