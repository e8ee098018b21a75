"""Events that made a rule's templates or conditions work for minutes, replayed through a worker run.

Each is refused at once with a permanent error (``template_limit`` or ``condition_limit``): tried
once, dead-lettered, never retried; a rule condition that would be too costly skips the run and
says why. Most of these need no payload at all: a 40-byte event was enough. (``range()`` and
``namespace()`` are not template variables, nor is a macro calling itself: ``validate`` refuses
them before anything runs.)
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlmodel import Session, select

from store.models import DeadLetter
from store.models.runs import RuleRun, RuleStep
from tests.engine.runtime.pipeline_helpers import make_driver, make_project

BIG = {"xs": list(range(20_000))}
TEMPLATE_ATTACKS = {
    "a string repeated into gigabytes": ("{{ ('A'*10**7)*100 }}", {}),
    "center to a billion characters": ("{{ 'a'|center(10**9) }}", {}),
    "a list of 10^8 items": ("{{ [1]*10**8 }}", {}),
    "a string repeated by a number in a 40-byte event": ("{{ 'x' * data.n }}", {"n": 10**9}),
    "a power of 10^10 digits": ("{{ 10**(10**10) }}", {}),
    "two loops nested over a 20,000-item payload": (
        "{% for a in data.xs %}{% for b in data.xs %}{% endfor %}{% endfor %}", BIG),
    "a string doubled 40 times": ("{% set s = 'a' %}" + "{% set s = s ~ s %}" * 40 + "{{ s }}", {}),
}
NESTED_EXISTS = "data.xs.exists(x, data.xs.exists(y, x == y + 1))"


def rules_with(message: str = "ok", rule_if: str | None = None, action_if: str | None = None) -> str:
    lines = ["rules:", "  - id: bomb", "    on: a.b"]
    if rule_if:
        lines.append(f"    if: {rule_if!r}")
    lines += ["    do:", f"      - log.write: {{message: {message!r}}}"]
    if action_if:
        lines.append(f"        if: {action_if!r}")
    return "\n".join(lines) + "\n"


def rows(driver, model, *where):  # type: ignore[no-untyped-def]
    with Session(driver.core.db) as session:
        return list(session.exec(select(model).where(*where)))


@pytest.mark.parametrize("attack", sorted(TEMPLATE_ATTACKS))
def test_an_unbounded_template_fails_the_step_for_good_at_once(attack: str, tmp_path: Path) -> None:
    template, data = TEMPLATE_ATTACKS[attack]
    driver = make_driver(make_project(tmp_path, rules_with(template)))
    driver.emit("a.b", "e1", **data)
    started = time.monotonic()
    driver.drain()
    elapsed = time.monotonic() - started
    (step,) = rows(driver, RuleStep)
    assert (step.status, step.attempts) == ("dead", 1), attack
    (letter,) = rows(driver, DeadLetter)
    assert letter.error_code == "template_limit", letter.error_message
    assert elapsed < 60, elapsed  # a generous bound: only a hang fails here
    print(f"{attack}: refused in {elapsed:.3f} s")


def test_a_rule_condition_too_costly_for_the_event_skips_the_run_and_says_why(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, rules_with(rule_if=NESTED_EXISTS)))
    driver.emit("a.b", "small", xs=[1, 2, 3])
    driver.emit("a.b", "big", **BIG)
    started = time.monotonic()
    driver.drain()
    elapsed = time.monotonic() - started
    runs = {run.event_id: run for run in rows(driver, RuleRun)}
    assert runs["small"].status == "succeeded"
    assert runs["big"].status == "skipped" and "over the limit" in runs["big"].skip_reason
    assert elapsed < 60, elapsed
    print(f"nested exists over 20,000 items: refused in {elapsed:.3f} s (with a 3-item event run)")


def test_an_action_condition_too_costly_fails_the_step_for_good(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, rules_with(action_if="data.xs.map(x, x * 2).size() > 0")))
    driver.emit("a.b", "big", **BIG)
    driver.drain()
    (step,) = rows(driver, RuleStep)
    assert (step.status, step.attempts) == ("dead", 1)
    (letter,) = rows(driver, DeadLetter)
    assert letter.error_code == "condition_limit", letter.error_message
