"""Hostile data against records.query and for_each: event data cannot choose a query, nor make a step
loop without bound, nor steer its idempotency keys onto another step's."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlmodel import Session, select

from connectors.records import RecordsQueryParams
from engine.language.dryrun import DryRun
from engine.language.events import Event
from engine.language.loader import load_rules, load_ruleset
from engine.language.loops import MAX_ITEMS, MAX_LOOP_TEXT, LoopError, item_idempotency_key, loop_units
from engine.language.ruleset import Loop
from engine.language.templating import TemplateStore, compile_value
from store.models import Notification
from store.models.runs import RuleStep
from tests.conftest import write
from tests.engine.runtime.pipeline_helpers import make_driver, make_project

CHOSEN_BY_DATA = """
rules:
  - id: lookup
    on: customer.updated
    do:
      - id: found
        records.query:
          query: "{{ data.query }}"
          params: {customer_id: "{{ data.customer.id }}"}
"""

EACH = """
rules:
  - id: each
    on: batch.ready
    do:
      - sms.send: {to: "+5511987654321", body: "{{ item.id }}"}
        for_each: data.lines
"""


def test_a_query_named_by_event_data_is_refused_at_validate(project: Path) -> None:
    write(project / "rules/r.yaml", CHOSEN_BY_DATA)
    (problem,) = load_rules(["rules"], "templates").problems
    assert (problem.line, problem.path) == (7, "rules[0].do[0].records.query.query")
    assert problem.message == "'query' must be written out, not a template"


@pytest.mark.parametrize("name", ["sqlite_master", "store.queries.run_query", "__init__",
                                  "invoices.overdue; DROP TABLE invoices", ""])
def test_only_the_declared_named_queries_can_run(name: str) -> None:
    # what prepare_call validates the rendered params against, at every run
    with pytest.raises(ValidationError, match="unknown query"):
        RecordsQueryParams(query=name)


def test_query_params_from_event_data_are_values_never_sql(tmp_path: Path) -> None:
    rules = CHOSEN_BY_DATA.replace('"{{ data.query }}"', "service_orders.open_for_customer")
    driver = make_driver(make_project(tmp_path, rules))
    driver.emit("customer.updated", "c1", customer={"id": "' OR 1=1 --"})
    assert driver.drain() == ["succeeded"]
    with Session(driver.core.db) as session:
        (step,) = session.exec(select(RuleStep))
    assert step.output == {"rows": [], "count": 0}


def test_a_huge_list_in_event_data_is_refused_at_once_and_sends_nothing(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, EACH))
    driver.emit("batch.ready", "b1", lines=[{"id": str(i)} for i in range(50_000)])
    started = time.perf_counter()
    assert driver.drain() == ["dead"]
    assert time.perf_counter() - started < 5
    with Session(driver.core.db) as session:
        (step,) = session.exec(select(RuleStep))
        assert step.error_code == "too_many_items"
        assert list(session.exec(select(Notification))) == []


def test_group_keys_from_data_are_bounded() -> None:
    loop = Loop("data.xs", ("data", "xs"), "item", compile_value("{{ item.k }}"))
    with pytest.raises(LoopError, match="a key of 5000 characters, over 200"):
        loop_units(loop, {"data": {"xs": [{"k": "x" * 5000}]}})
    assert MAX_ITEMS == 500


def test_item_ids_cannot_reach_another_steps_keys() -> None:
    """The step's own key comes first, so an item id is only ever a suffix of it; ids with
    separators or control characters are hashed."""
    loop = Loop("data.xs", ("data", "xs"))
    hostile = [{"id": "x:e2:do[0]"}, {"id": "a\nb"}, {"id": "#"}]
    keys = [unit.key for unit in loop_units(loop, {"data": {"xs": hostile}})]
    assert keys[1].startswith("sha256:")
    full = [item_idempotency_key("each:e1:do[0]", key) for key in keys]
    assert all(key.startswith("each:e1:do[0]#") for key in full)
    assert len(set(full)) == 3


def test_the_text_all_calls_of_a_loop_render_is_bounded_together(project: Path) -> None:
    """Each call stays within one call's render limits (2 M characters); 25 of them would not."""
    write(project / "rules/r.yaml", """
        rules:
          - id: big
            on: batch.ready
            do:
              - log.write: {message: "{{ 'x' * 1000000 }}"}
                for_each: data.xs
        """)
    dry = DryRun(load_ruleset(["rules"], "templates"), TemplateStore("templates"), {})
    (rule,) = dry.preview(Event(type="batch.ready", data={"xs": list(range(25))})).rules
    (action,) = rule.actions
    assert action.error == (f"for_each: the calls' params and messages pass {MAX_LOOP_TEXT} characters "
                            "(stopped at item 20)")
    assert action.items is None
