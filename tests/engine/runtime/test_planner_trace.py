"""The planner records on each run what the rule's condition gave (``rule_runs.trace``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from engine.language.conditions import Clause
from store.models.runs import RuleRun
from tests.engine.runtime.pipeline_helpers import make_driver, make_project

RULES = """
rules:
  - id: big-order
    on: service_order.created
    if:
      - data.order.amount > 100
      - any: ['data.order.priority == "high"', 'data.customer.tier == "vip"']
    do:
      - log.write: {message: "big {{ event.id }}"}
  - id: any-order
    on: service_order.created
    do:
      - log.write: {message: "order {{ event.id }}"}
"""


def traces(tmp_path: Path, **data: object) -> dict[str, object]:
    driver = make_driver(make_project(tmp_path, RULES))
    driver.emit("service_order.created", "e1", **data)
    driver.core.relay.relay_once()
    with Session(driver.core.db) as session:
        runs = {run.rule_id: run for run in session.exec(select(RuleRun))}
    driver.core.close()
    return {rule_id: (run.status, run.trace) for rule_id, run in runs.items()}


def test_a_matching_run_records_each_top_level_condition_as_true(tmp_path: Path) -> None:
    runs = traces(tmp_path, order={"amount": 250, "priority": "low"}, customer={"tier": "vip"})
    assert runs["big-order"] == ("planned", {"conditions": [
        {"path": "if[0]", "condition": "data.order.amount > 100", "result": True, "error": None},
        {"path": "if[1]", "condition": 'any: [data.order.priority == "high", data.customer.tier == "vip"]',
         "result": True, "error": None},
    ]})
    assert runs["any-order"] == ("planned", {"conditions": []})


def test_a_condition_that_fails_records_which_part_and_why(tmp_path: Path) -> None:
    runs = traces(tmp_path, order={"amount": 250, "priority": "low"})
    status, trace = runs["big-order"]
    assert status == "skipped"
    assert trace == {"conditions": [
        {"path": "if[0]", "condition": "data.order.amount > 100", "result": True, "error": None},
        {"path": "if[1]", "condition": 'any: [data.order.priority == "high", data.customer.tier == "vip"]',
         "result": None, "error": "no such field 'customer' in the event"},
    ]}


def test_a_condition_that_is_false_starts_no_run(tmp_path: Path) -> None:
    assert set(traces(tmp_path, order={"amount": 5, "priority": "high"})) == {"any-order"}


def test_a_matching_rule_evaluates_each_clause_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    holds = Clause.holds

    def counted(self: Clause, ctx: object) -> bool:
        calls.append(self.path)
        return holds(self, ctx)  # type: ignore[arg-type]

    monkeypatch.setattr(Clause, "holds", counted)
    traces(tmp_path, order={"amount": 250, "priority": "high"})
    assert calls == ["if[0]", "if[1].any[0]"]  # the trace costs no second evaluation
