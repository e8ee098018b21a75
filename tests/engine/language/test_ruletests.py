from __future__ import annotations

import json
from pathlib import Path

from engine.language.dryrun import DryRun
from engine.language.loader import load_ruleset
from engine.language.ruletests import run_tests
from engine.language.templating import TemplateStore
from tests.conftest import write

RULES = """
rules:
  - id: remind
    on: appointment.reminder_due
    if: data.customer.phone != ""
    do:
      - sms.send: {to: "{{ data.customer.phone }}", template: lembrete}
  - id: other
    on: payment.received
    do:
      - event.emit: {type: a.b}
"""

EVENT = """
    event:
      type: appointment.reminder_due
      data: {customer: {name: Ana, phone: "+5511987654321"}}
"""


def run(project: Path, tests: str):
    write(project / "rules/r.yaml", RULES)
    write(project / "rules/tests/t.yaml", tests)
    runner = DryRun(load_ruleset(["rules"], "templates"), TemplateStore("templates"), {})
    return run_tests([project / "rules/tests/t.yaml"], runner)


def test_passing_expectations(project: Path) -> None:
    report = run(project, "tests:\n  - name: ok" + EVENT + """
    expect:
      match: [remind]
      no_match: [other]
      actions:
        - rule: remind
          action: sms.send
          params: {to: "+5511987654321"}
          text_contains: [Ana]
          preview: {encoding: GSM-7, segments: 1}
""")
    assert report.problems == []
    assert (report.passed, report.failed, report.ok) == (1, 0, True)


def test_wrong_param_fails_with_expected_and_actual(project: Path) -> None:
    report = run(project, "tests:\n  - name: wrong" + EVENT + """
    expect:
      actions:
        - {rule: remind, action: sms.send, params: {to: "+5511000000000"}}
""")
    (failure,) = report.results[0].failures
    assert failure.message == "remind: sms.send: params differ"
    assert '"+5511000000000"' in failure.expected and '"+5511987654321"' in failure.actual


def test_rule_that_should_match_but_did_not_shows_its_clauses(project: Path) -> None:
    report = run(project, """
tests:
  - name: no phone
    event: {type: appointment.reminder_due, data: {customer: {name: Ana, phone: ""}}}
    expect: {match: [remind]}
""")
    (failure,) = report.results[0].failures
    assert failure.message == "rule 'remind' did not match"
    assert failure.actual == 'if: data.customer.phone != "" -> false'


def test_unexpected_match_unknown_rule_and_missing_text_fail(project: Path) -> None:
    report = run(project, "tests:\n  - name: several" + EVENT + """
    expect:
      no_match: [remind]
      match: [ghost]
      actions:
        - {rule: remind, action: sms.send, text_contains: [Bruno]}
        - {rule: remind, action: email.send}
""")
    messages = [f.message for f in report.results[0].failures]
    assert messages == [
        "unknown rule 'ghost' in match",
        "rule 'remind' matched but should not",
        "remind: sms.send: message text lacks 'Bruno'",
        "remind: email.send: no such action ran",
    ]


def test_malformed_test_file_is_a_located_problem(project: Path) -> None:
    report = run(project, "tests:\n  - name: bad\n    expect: {matches: [remind]}\n")
    assert [(p.line, p.path, p.message) for p in report.problems] == [
        (3, "tests[0].expect.matches", "unknown key 'matches'")]
    assert not report.ok
    report = run(project, "tests:\n  - name: bad\n    expect: {match: [remind]}\n")
    assert [(p.line, p.message) for p in report.problems] == [(2, "give exactly one of 'event' or 'events'")]


NESTED_RULES = """
rules:
  - id: escalate
    on: invoice.overdue
    do:
      - event.emit:
          type: invoice.escalated
          data:
            invoice: {id: "{{ data.invoice.id }}", days: "{{ data.days }}"}
            customer: {name: "{{ data.customer.name }}", tags: [a, b]}
"""

OVERDUE = """
    event:
      type: invoice.overdue
      data: {invoice: {id: inv-1}, days: 12, customer: {name: Ana}}
"""


def run_nested(project: Path, tests: str):
    write(project / "rules/r.yaml", NESTED_RULES)
    write(project / "rules/tests/t.yaml", tests)
    runner = DryRun(load_ruleset(["rules"], "templates"), TemplateStore("templates"), {})
    return run_tests([project / "rules/tests/t.yaml"], runner)


def test_nested_params_are_a_subset_at_every_depth(project: Path) -> None:
    report = run_nested(project, "tests:\n  - name: nested" + OVERDUE + """
    expect:
      actions:
        - rule: escalate
          action: event.emit
          params: {data: {invoice: {id: inv-1}, customer: {tags: [a, b]}}}
""")
    assert report.results[0].failures == []
    assert report.ok


def test_a_wrong_nested_param_shows_only_the_keys_it_compared(project: Path) -> None:
    report = run_nested(project, "tests:\n  - name: nested" + OVERDUE + """
    expect:
      actions:
        - rule: escalate
          action: event.emit
          params: {data: {invoice: {id: inv-2, number: 7}}}
""")
    (failure,) = report.results[0].failures
    assert failure.message == "escalate: event.emit: params differ"
    assert json.loads(failure.actual) == {"data": {"invoice": {"id": "inv-1", "number": "<missing>"}}}


def test_a_list_param_must_have_the_same_items(project: Path) -> None:
    report = run_nested(project, "tests:\n  - name: list" + OVERDUE + """
    expect:
      actions:
        - {rule: escalate, action: event.emit, params: {data: {customer: {tags: [a]}}}}
""")
    assert [f.message for f in report.results[0].failures] == ["escalate: event.emit: params differ"]


def test_every_failing_expectation_of_an_action_is_reported(project: Path) -> None:
    report = run(project, "tests:\n  - name: several" + EVENT + """
    expect:
      actions:
        - rule: remind
          action: sms.send
          params: {to: "+5511000000000"}
          preview: {segments: 9}
          text_contains: [Bruno, Carla, Ana]
""")
    assert [f.message for f in report.results[0].failures] == [
        "remind: sms.send: params differ",
        "remind: sms.send: preview differs",
        "remind: sms.send: message text lacks 'Bruno'",
        "remind: sms.send: message text lacks 'Carla'",
    ]


def test_unknown_rule_ids_suggest_the_closest_rule(project: Path) -> None:
    report = run(project, "tests:\n  - name: typos" + EVENT + """
    expect:
      match: [remindd]
      no_match: [othr]
      actions:
        - {rule: remnd, action: sms.send}
        - {rule: zzz, action: sms.send}
""")
    assert [f.message for f in report.results[0].failures] == [
        "unknown rule 'remindd' in match (did you mean 'remind'?)",
        "unknown rule 'othr' in no_match (did you mean 'other'?)",
        "unknown rule 'remnd' in actions (did you mean 'remind'?)",
        "unknown rule 'zzz' in actions",
    ]
