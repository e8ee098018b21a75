"""The plan diff: the same events against two rule sets, compared per rule as data."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from engine.language.dryrun import DryRun
from engine.language.events import Event, parse_events
from engine.language.loader import load_ruleset
from engine.language.plan import PlannedAction, diff_actions, diff_values, plan
from engine.language.templating import TemplateStore
from tests.conftest import write

EXAMPLES = Path(__file__).resolve().parents[3] / "examples/events.yaml"

BASE = """
rules:
  - id: assigned
    on: service_order.assigned
    do:
      - sms.send: {to: "{{ data.technician.phone }}", body: "OS {{ data.order.id }}"}
      - log.write: {message: "one"}
      - log.write: {message: "two"}
"""


def example_events() -> list[Event]:
    return parse_events(EXAMPLES.read_text(encoding="utf-8"), str(EXAMPLES))


def dry_run(project: Path, folder: str, rules: str) -> DryRun:
    write(project / folder / "r.yaml", rules)
    return DryRun(load_ruleset([folder], "templates"), TemplateStore("templates"), {"timezone": "UTC"},
                  max_depth=0)


def action(key: str, uses: str, **params: object) -> PlannedAction:
    return PlannedAction(key, uses, dict(params), None, None)


def test_identical_rule_sets_change_nothing(project: Path) -> None:
    report = plan(example_events(), dry_run(project, "a", BASE), dry_run(project, "b", BASE))
    assert report.events == len(example_events()) and not report.changed and report.rules == {}


def test_param_change_is_a_changed_action_with_a_leaf_diff(project: Path) -> None:
    head = BASE.replace('body: "OS {{ data.order.id }}"', 'body: "Ordem {{ data.order.id }}"')
    report = plan(example_events(), dry_run(project, "a", BASE), dry_run(project, "b", head))
    changes = report.rules["assigned"]
    assert changes.counts == {"added": 0, "removed": 0, "changed": 2}  # two assigned events
    first = changes.examples["changed"][0]
    order = next(e for e in example_events() if e.id == first.event_id).data["order"]["id"]
    assert first.diff["params.body"] == {"before": f"OS {order}", "after": f"Ordem {order}"}
    assert first.diff["preview.text"] == {"before": f"OS {order}", "after": f"Ordem {order}"}


def test_inserting_an_action_pairs_the_others_by_name_and_occurrence() -> None:
    event = Event(type="x.y", id="e1")
    before = [action("do[0]", "sms.send", to="1"), action("do[1]", "log.write", message="one")]
    after = [action("do[0]", "log.write", message="zero"), action("do[1]", "sms.send", to="1"),
             action("do[2]", "log.write", message="one")]
    changes = diff_actions(event, before, after)
    assert [(c.kind, c.key, c.diff) for c in changes] == [
        ("changed", "do[0]", {"params.message": {"before": "one", "after": "zero"}}),
        ("added", "do[2]", {}),
    ]


def test_a_rule_that_stops_matching_removes_its_actions(project: Path) -> None:
    head = BASE.replace("    do:\n", "    if: data.order.priority == \"urgent\"\n    do:\n", 1)
    report = plan(example_events(), dry_run(project, "a", BASE), dry_run(project, "b", head))
    assert report.rules["assigned"].counts == {"added": 0, "removed": 6, "changed": 0}


def test_a_new_quiet_window_changes_when_actions_run(project: Path) -> None:
    quiet = '    quiet_hours: {from: "00:00", to: "23:59", timezone: UTC}\n'
    head = BASE.replace("    do:\n", quiet + "    do:\n", 1)
    events = [e.model_copy(update={"at": datetime(2026, 12, 2, 12, 0, tzinfo=UTC)})
              for e in example_events()]
    report = plan(events, dry_run(project, "a", BASE), dry_run(project, "b", head))
    change = report.rules["assigned"].examples["changed"][0]
    # the window is read on the recipient's clock (America/Sao_Paulo in the examples), not the rule's UTC
    assert change.diff == {"runs_at": {"before": None, "after": "2026-12-03T02:59:00+00:00"}}


def test_examples_are_bounded_per_kind_while_counts_go_on(project: Path) -> None:
    data = {"technician": {"phone": "+5511900000000"}}
    events = [Event(type="service_order.assigned", id=f"e{i}", data={**data, "order": {"id": str(i)}})
              for i in range(50)]
    head = BASE.replace('"OS ', '"Ordem ')
    report = plan(events, dry_run(project, "a", BASE), dry_run(project, "b", head), examples=4)
    changes = report.rules["assigned"]
    assert changes.counts["changed"] == 50 and len(changes.examples["changed"]) == 4


def test_a_render_error_on_one_side_is_a_change(project: Path) -> None:
    head = BASE.replace("data.order.id", "data.order.missing")
    report = plan(example_events(), dry_run(project, "a", BASE), dry_run(project, "b", head))
    change = report.rules["assigned"].examples["changed"][0]
    assert change.diff["params"]["after"] is None and change.diff["error"]["before"] is None
    assert "after" not in change.diff["preview.text"]  # nothing would be sent
    assert "has no attribute 'missing'" in change.diff["error"]["after"]


def test_diff_values_tells_absent_from_null_and_int_from_float() -> None:
    assert diff_values({"a": 1, "b": None}, {"a": 1.0, "c": None}) == {
        "a": {"before": 1, "after": 1.0},
        "b": {"before": None},
        "c": {"after": None},
    }
    assert diff_values({"x": [1, 2]}, {"x": [1, 2]}) == {}


def test_report_json_has_counts_total_and_examples(project: Path) -> None:
    head = BASE.replace('"OS ', '"Ordem ')
    report = plan(example_events(), dry_run(project, "a", BASE), dry_run(project, "b", head), examples=1)
    data = report.to_dict()
    (rule,) = data["rules"]
    assert (data["events"], data["changed"]) == (len(example_events()), True)
    assert (rule["rule_id"], rule["changed"], rule["total"]) == ("assigned", 2, 2)
    assert rule["examples"]["changed"][0]["before"]["action"] == "sms.send"


SCHEDULED = """
rules:
  - id: overdue-sms
    on: {cron: "0 9 * * *", for_each: invoices.overdue, params: {days: 3}}
    do:
      - sms.send: {to: "{{ data.customer.phone }}", body: "Fatura {{ data.invoice.number }} vencida"}
  - id: nightly
    on: {cron: "0 2 * * *"}
    do:
      - log.write: {message: "backup"}
"""


def test_stored_schedule_fires_are_replayed_against_the_rule_that_fired(project: Path) -> None:
    from engine.runtime.scheduled import fire_events

    base = dry_run(project, "a", SCHEDULED)
    head = dry_run(project, "b", SCHEDULED.replace("vencida", "em aberto").replace('"backup"', '"copia"'))
    overdue = next(e for e in example_events() if e.type == "invoice.overdue")
    at = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    rule, nightly = base.ruleset.by_id["overdue-sms"], base.ruleset.by_id["nightly"]
    claim, rows = fire_events(rule, rule.schedules[0], at, [overdue.data, overdue.data])
    (night,) = fire_events(nightly, nightly.schedules[0], at, None)[1]
    report = plan([claim, *rows, night], base, head)
    assert report.rules["overdue-sms"].counts["changed"] == 2  # the claim itself starts nothing
    assert report.rules["nightly"].counts["changed"] == 1


def test_schedule_fire_of_a_rule_that_no_longer_has_a_schedule_removes_its_actions(project: Path) -> None:
    from engine.runtime.scheduled import fire_events

    base = dry_run(project, "a", SCHEDULED)
    head = dry_run(project, "b", SCHEDULED.replace('on: {cron: "0 2 * * *"}', "on: backup.requested"))
    nightly = base.ruleset.by_id["nightly"]
    (night,) = fire_events(nightly, nightly.schedules[0], datetime(2026, 12, 1, 5, 0, tzinfo=UTC), None)[1]
    assert plan([night], base, head).rules["nightly"].counts == {"added": 0, "removed": 1, "changed": 0}


def test_event_that_only_looks_like_a_fire_is_matched_by_type(project: Path) -> None:
    base = dry_run(project, "a", SCHEDULED)
    head = dry_run(project, "b", SCHEDULED.replace('"backup"', '"copia"'))
    forged = Event(type="schedule", id="nightly@2026-12-01T02:00:00+00:00", source="api")
    assert not plan([forged], base, head).changed
