"""Warnings never refuse a rule set; errors still do, with every problem of the rule at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import RuleSetError
from engine.language.loader import load_rules, load_ruleset
from tests.conftest import write

REPO = Path(__file__).resolve().parents[3]
OUTSIDE = """
rules:
  - id: erp-sync
    on: erp.customer_updated
    if: data.customer.tier == "gold"
    do:
      - log.write: {message: "{{ data.customer.id }}"}
"""


def test_a_rule_set_with_only_warnings_loads_for_the_daemon(tmp_path: Path) -> None:
    write(tmp_path / "rules/r.yaml", OUTSIDE)
    ruleset = load_ruleset([tmp_path / "rules"], tmp_path / "templates")
    assert [rule.id for rule in ruleset.rules] == ["erp-sync"]
    result = load_rules([tmp_path / "rules"], tmp_path / "templates")
    assert result.ok and result.problems == [] and len(result.warnings) == 1


def test_an_error_still_refuses_the_set_and_carries_only_errors(tmp_path: Path) -> None:
    write(tmp_path / "rules/r.yaml", OUTSIDE.replace("log.write", "log.writ"))
    with pytest.raises(RuleSetError) as caught:
        load_ruleset([tmp_path / "rules"], tmp_path / "templates")
    assert [p.message for p in caught.value.problems] == ["unknown action 'log.writ'"]


def test_the_companys_rules_validate_without_a_warning() -> None:
    result = load_rules([REPO / "rules"], REPO / "templates")
    assert result.problems == [] and result.warnings == []
    assert len(result.ruleset) >= 17


def test_a_shape_error_does_not_hide_the_rules_other_problems(tmp_path: Path) -> None:
    write(tmp_path / "rules/r.yaml", """
rules:
  - id: both
    on: service_order.assigned
    unknown: 1
    if: data.order.priority = "high"
    do:
      - order.assign_technician: {order_id: "{{ data.order.id }}"}
        id: assign
      - log.write: {message: "{{ steps.assign.technician }}"}
""")
    result = load_rules([tmp_path / "rules"], tmp_path / "templates")
    assert [p.path for p in result.problems] == [
        "rules[0].unknown", "rules[0].if", "rules[0].do[1].log.write.message"]
    assert result.problems[1].hint == "did you mean '=='? CEL compares with =="
    assert result.problems[2].hint == "did you mean 'technician_id'?"


def test_an_action_with_a_bad_option_keeps_its_index_and_its_params_checks(tmp_path: Path) -> None:
    write(tmp_path / "rules/r.yaml", """
rules:
  - id: options
    on: service_order.assigned
    do:
      - log.write: {message: "{{ data.order.id }}", level: loud}
        delay: 1 day
      - sms.send: {to: "{{ data.customer.phone }}", body: oi, max_segment: 2}
""")
    result = load_rules([tmp_path / "rules"], tmp_path / "templates")
    assert [(p.path, p.line) for p in result.problems] == [
        ("rules[0].do[0].log.write.level", 5),
        ("rules[0].do[0].delay", 6),
        ("rules[0].do[1].sms.send.max_segment", 7),
    ]
