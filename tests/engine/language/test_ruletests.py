from __future__ import annotations

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
