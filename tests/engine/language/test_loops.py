"""for_each / as / group_by on actions and records.query: checked at validate, previewed by dry-run."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.language import ruletests
from engine.language.dryrun import DryRun
from engine.language.events import Event
from engine.language.loader import load_rules, load_ruleset
from engine.language.loops import MAX_ITEMS, LoopError, item_idempotency_key, loop_units
from engine.language.ruleset import Loop
from engine.language.templating import TemplateStore, compile_value
from tests.conftest import write

LOOKUP = """
rules:
  - id: open-orders
    on: customer.updated
    do:
      - id: lookup
        records.query:
          query: service_orders.open_for_customer
          params: {customer_id: "{{ data.customer.id }}"}
      - sms.send:
          to: "{{ data.customer.phone }}"
          body: "OS {{ order_row.order.id }}: {{ order_row.order.status }}"
        for_each: steps.lookup.rows
        as: order_row
"""

BY_TECHNICIAN = """
rules:
  - id: agenda
    on: agenda.requested
    do:
      - email.send:
          to: "{{ group.members[0].technician.email }}"
          subject: "{{ group.count }} visitas"
          body: "{% for v in group.members %}{{ v.appointment.id }} {% endfor %}"
        for_each: data.visits
        group_by: "{{ item.technician.id }}"
        if: group.members[0].technician.email != ""
"""


def problems(project: Path, rules: str) -> list[str]:
    write(project / "rules/r.yaml", rules)
    return [f"{p.line}: {p.path}: {p.message}" + (f" ({p.hint})" if p.hint else "")
            for p in load_rules(["rules"], "templates").problems]


def visit(visit_id: str, technician: str, email: str = "") -> dict[str, object]:
    return {"appointment": {"id": visit_id},
            "technician": {"id": technician, "email": email or f"{technician}@x.br"}}


def test_a_for_each_action_compiles_with_its_item_name_and_reads_the_earlier_step(project: Path) -> None:
    write(project / "rules/r.yaml", LOOKUP)
    action = load_ruleset(["rules"], "templates").rules[0].actions[1]
    assert action.loop is not None
    assert (action.loop.path, action.loop.name) == (("steps", "lookup", "rows"), "order_row")
    assert action.reads_steps


def test_for_each_accepts_the_template_form_of_a_path(project: Path) -> None:
    assert problems(project, LOOKUP.replace("for_each: steps.lookup.rows",
                                            'for_each: "{{ steps.lookup.rows }}"')) == []
    assert problems(project, LOOKUP.replace("for_each: steps.lookup.rows",
                                            'for_each: "{{ steps.lookup.rows"')) == [
        "12: rules[0].do[1].for_each: for_each '{{ steps.lookup.rows' is not a path to a list "
        "(write a dotted path such as steps.lookup.rows or data.items)"]


def test_for_each_problems_are_located_and_explained(project: Path) -> None:
    assert problems(project, LOOKUP.replace("steps.lookup.rows", "steps.lokup.rows")) == [
        "12: rules[0].do[1].for_each: unknown step 'steps.lokup' (did you mean 'lookup'?)"]
    assert problems(project, LOOKUP.replace("steps.lookup.rows", "datas.items")) == [
        "12: rules[0].do[1].for_each: unknown variable 'datas' in for_each (did you mean 'data'?)"]
    assert problems(project, LOOKUP.replace("steps.lookup.rows", "'{{ steps.lookup.rows | first }}'")) == [
        "12: rules[0].do[1].for_each: for_each '{{ steps.lookup.rows | first }}' is not a path to a list "
        "(write a dotted path such as steps.lookup.rows or data.items)"]
    assert "13: rules[0].do[1].as: 'data' is a variable already (pick another name, e.g. item)" \
        in problems(project, LOOKUP.replace("as: order_row", "as: data"))


def test_params_may_not_read_the_item_under_another_name(project: Path) -> None:
    found = problems(project, LOOKUP.replace("order_row.order.status", "item.order.status"))
    assert found == ["11: rules[0].do[1].sms.send.body: unknown variable 'item' in template "
                     "(templates can use: config, data, event, now, order_row, recipient, rule, steps)"]


def test_as_and_group_by_need_for_each(project: Path) -> None:
    rules = LOOKUP.replace("        for_each: steps.lookup.rows\n", "").replace(
        "as: order_row", "as: order_row\n        group_by: '{{ order_row.id }}'")
    hint = "(add for_each: with the list to go through)"
    assert problems(project, rules)[-2:] == [
        f"12: rules[0].do[1].as: 'as' needs 'for_each' {hint}",
        f"13: rules[0].do[1].group_by: 'group_by' needs 'for_each' {hint}",
    ]


def test_a_grouped_action_sees_group_not_item_and_its_if_reads_group(project: Path) -> None:
    assert problems(project, BY_TECHNICIAN) == []
    found = problems(project, BY_TECHNICIAN.replace("group.count", "item.x"))
    assert found == ["7: rules[0].do[0].email.send.subject: unknown variable 'item' in template "
                     "(templates can use: config, data, event, group, now, recipient, rule, steps)"]


def test_a_message_template_file_may_read_the_loop_variable_of_the_action_using_it(project: Path) -> None:
    write(project / "templates/email/agenda.subject", "Agenda: {{ group.count }} visitas")
    write(project / "templates/email/agenda.txt",
          "{% for v in group.members %}{{ v.appointment.id }}\n{% endfor %}")
    rules = BY_TECHNICIAN.replace('          subject: "{{ group.count }} visitas"\n', "").replace(
        '          body: "{% for v in group.members %}{{ v.appointment.id }} {% endfor %}"\n',
        "          template: agenda\n")
    assert problems(project, rules) == []
    plain = "rules:\n  - id: x\n    on: a.b\n    do:\n      - email.send: {to: a@b.br, template: agenda}\n"
    found = problems(project, plain)
    assert len(found) == 2  # the subject and the text
    message = "unknown variable 'group' (templates can use: config, data, event, now, recipient, rule, steps)"
    assert all(p.endswith(f": {message}") for p in found)


def test_records_query_names_and_params_are_checked_at_validate(project: Path) -> None:
    assert problems(project, LOOKUP.replace("service_orders.open_for_customer",
                                            "service_orders.open_for_costumer")) == [
        "7: rules[0].do[0].records.query.query: unknown query 'service_orders.open_for_costumer' "
        "(did you mean 'service_orders.open_for_customer'?)"]
    found = problems(project, LOOKUP.replace("{customer_id:", "{cliente: x, customer_id:"))
    assert len(found) == 1
    assert "params of query 'service_orders.open_for_customer': cliente: Extra inputs are not permitted" \
        in found[0]


def test_records_query_refuses_a_query_name_chosen_by_a_template(project: Path) -> None:
    found = problems(project, LOOKUP.replace("query: service_orders.open_for_customer",
                                             'query: "{{ data.query }}"'))
    assert found == ["7: rules[0].do[0].records.query.query: 'query' must be written out, not a template "
                     "(event data must not choose it: write one action per choice, each with its own 'if')"]


# --- items, groups and keys ---------------------------------------------------------------------

def test_items_are_keyed_by_their_own_ids_and_groups_by_their_key() -> None:
    rows = [visit("v1", "t1"), visit("v2", "t2"), visit("v3", "t1")]
    units = loop_units(Loop("data.visits", ("data", "visits")), {"data": {"visits": rows}})
    assert [u.key for u in units] == ["v1", "v2", "v3"]
    assert units[0].bindings == {"item": rows[0]}
    grouped = Loop("data.visits", ("data", "visits"), "v", compile_value("{{ v.technician.id }}"))
    groups = loop_units(grouped, {"data": {"visits": rows}})
    assert [(g.key, g.bindings["group"]["count"]) for g in groups] == [("t1", 2), ("t2", 1)]
    assert groups[0].bindings["group"]["members"] == [rows[0], rows[2]]


def test_items_without_distinct_ids_are_keyed_by_position() -> None:
    loop = Loop("data.xs", ("data", "xs"))
    assert [u.key for u in loop_units(loop, {"data": {"xs": ["a", "b"]}})] == ["0", "1"]
    assert [u.key for u in loop_units(loop, {"data": {"xs": [{"id": 1}, {"id": 1}]}})] == ["0", "1"]


def test_a_long_item_key_is_hashed_to_fit_the_key_columns() -> None:
    loop = Loop("data.xs", ("data", "xs"))
    (unit,) = loop_units(loop, {"data": {"xs": [{"id": "x" * 5000}]}})
    assert unit.key.startswith("sha256:") and len(unit.key) < 80
    assert len(item_idempotency_key("r" * 300, unit.key)) <= 300


def test_a_list_over_the_limit_is_refused_whole() -> None:
    loop = Loop("data.xs", ("data", "xs"))
    too_many = f"has {MAX_ITEMS + 1} items, over the limit of {MAX_ITEMS}"
    with pytest.raises(LoopError, match=too_many) as raised:
        loop_units(loop, {"data": {"xs": list(range(MAX_ITEMS + 1))}})
    assert raised.value.code == "too_many_items"


def test_a_missing_list_or_a_value_that_is_not_one_is_an_error() -> None:
    loop = Loop("data.xs", ("data", "xs"))
    with pytest.raises(LoopError, match=r"'data\.xs' is not defined"):
        loop_units(loop, {"data": {}})
    with pytest.raises(LoopError, match=r"data\.xs is str, not a list"):
        loop_units(loop, {"data": {"xs": "abc"}})


# --- dry-run ------------------------------------------------------------------------------------

def test_dry_run_previews_one_call_per_group_and_skips_the_groups_the_if_refuses(project: Path) -> None:
    write(project / "rules/r.yaml", BY_TECHNICIAN)
    dry = DryRun(load_ruleset(["rules"], "templates"), TemplateStore("templates"), {})
    rows = [visit("v1", "t1"), visit("v2", "t2"), visit("v3", "t1"), visit("v4", "t3", email="")]
    rows[3]["technician"] = {"id": "t3", "email": ""}
    (rule,) = dry.preview(Event(type="agenda.requested", data={"visits": rows})).rules
    (action,) = rule.actions
    assert action.items is not None
    assert [(i.id, i.params and i.params["to"], i.params and i.params["body"]) for i in action.items] == [
        ("do[0]#t1", "t1@x.br", "v1 v3 "), ("do[0]#t2", "t2@x.br", "v2 ")]
    assert action.preview == {"for_each": "data.visits", "calls": 2, "skipped": ["t3"]}


def test_dry_run_says_a_list_from_a_query_is_known_when_the_step_runs(project: Path) -> None:
    write(project / "rules/r.yaml", LOOKUP)
    dry = DryRun(load_ruleset(["rules"], "templates"), TemplateStore("templates"), {})
    customer = {"customer": {"id": "c1", "phone": "+5511987654321"}}
    lookup, sms = dry.preview(Event(type="customer.updated", data=customer)).rules[0].actions
    assert lookup.preview["note"].startswith("would run the query 'service_orders.open_for_customer'")
    assert sms.items is None and sms.error is None
    assert sms.preview["items"].startswith("known when the step runs")
    rows = [{"order": {"id": "o1", "status": "scheduled"}}, {"order": {"id": "o2", "status": "open"}}]
    given = dry.with_records({"service_orders.open_for_customer": rows})
    lookup, sms = given.preview(Event(type="customer.updated", data=customer)).rules[0].actions
    assert lookup.preview["rows"] == 2
    assert [i.params and i.params["body"] for i in sms.items or []] == ["OS o1: scheduled", "OS o2: open"]


# --- rule tests ---------------------------------------------------------------------------------

def run_rule_tests(project: Path, tests: str) -> ruletests.TestReport:
    write(project / "rules/r.yaml", LOOKUP)
    write(project / "rules/tests/t.yaml", tests)
    runner = DryRun(load_ruleset(["rules"], "templates"), TemplateStore("templates"), {})
    return ruletests.run_tests([project / "rules/tests/t.yaml"], runner)


CASE = """
tests:
  - name: one SMS per open order
    event: {type: customer.updated, data: {customer: {id: c1, phone: "+5511987654321"}}}
    records:
      {query}: [{order: {id: o1, status: open}}, {order: {id: o2, status: scheduled}}]
    expect:
      actions:
        - {rule: open-orders, action: sms.send, params: {body: "OS o2: {status}"}}
"""


def test_a_rule_test_gives_the_rows_of_a_query_and_checks_each_call(project: Path) -> None:
    case = CASE.replace("{query}", "service_orders.open_for_customer")
    assert run_rule_tests(project, case.replace("{status}", "scheduled")).ok
    failed = run_rule_tests(project, case.replace("{status}", "open"))
    assert (failed.passed, failed.failed) == (0, 1)
    assert failed.results[0].failures[0].message == "open-orders: sms.send: params differ"


def test_rows_for_an_unknown_query_are_a_located_problem_in_the_test_file(project: Path) -> None:
    report = run_rule_tests(project, CASE.replace("{query}", "service_orders.open").replace("{status}", "x"))
    assert [(p.line, p.path) for p in report.problems] == [(5, "tests[0].records")]
    assert "unknown query 'service_orders.open'" in report.problems[0].message
    assert not report.ok


def test_the_item_name_must_be_a_plain_lowercase_name(project: Path) -> None:
    assert problems(project, LOOKUP.replace("as: order_row", "as: Order-Row")) == [
        "13: rules[0].do[1].as: 'Order-Row' cannot name the item: use lowercase letters, digits and '_'"]
