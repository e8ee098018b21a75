from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import RuleSetError
from engine.language.loader import discover, load_rules, load_ruleset
from tests.conftest import write

GOOD = """
rules:
  - id: remind
    on: appointment.reminder_due
    do:
      - sms.send: {to: "{{ data.customer.phone }}", template: lembrete}
"""


def test_folder_is_read_recursively_skipping_tests(project: Path) -> None:
    write(project / "rules/a.yaml", GOOD)
    write(project / "rules/sub/b.yml", GOOD.replace("remind", "remind-b"))
    write(project / "rules/tests/t.yaml", "tests: []")
    write(project / "rules/notes.txt", "not a rule")
    files, problems = discover([project / "rules"])
    assert [f.name for f in files] == ["a.yaml", "b.yml"]
    assert problems == []


def test_missing_path_is_a_problem(project: Path) -> None:
    result = load_rules(["nowhere"], "templates")
    assert [p.message for p in result.problems] == ["no such file or folder"]


def test_good_rules_load_and_compile(project: Path) -> None:
    write(project / "rules/a.yaml", GOOD)
    ruleset = load_ruleset(["rules"], "templates")
    assert [r.id for r in ruleset.rules] == ["remind"]
    assert ruleset.rules[0].file == "rules/a.yaml"
    assert ruleset.rules[0].line == 2


def test_duplicate_ids_across_files_name_both_places(project: Path) -> None:
    write(project / "rules/a.yaml", GOOD)
    write(project / "rules/b.yaml", "# moved here\n# from a.yaml" + GOOD)
    result = load_rules(["rules"], "templates")
    (problem,) = result.problems
    assert (problem.file, problem.line, problem.message) == ("rules/b.yaml", 4, "duplicate rule id 'remind'")
    assert problem.hint == "first defined at rules/a.yaml:2"


def test_all_problems_of_all_files_are_reported_sorted(project: Path) -> None:
    write(project / "rules/b.yaml", "rules:\n  - id: b\n    on: x.y\n    do: [{nope.send: {}}]\n")
    write(project / "rules/a.yaml",
          "rules:\n  - id: a\n    on: x.y\n    if: 'data.x >'\n    do: [{event.emit: {type: a.b}}]\n")
    result = load_rules(["rules"], "templates")
    assert [(p.file, p.line) for p in result.problems] == [("rules/a.yaml", 4), ("rules/b.yaml", 4)]


def test_bad_rule_set_never_half_loads(project: Path) -> None:
    write(project / "rules/a.yaml", GOOD)
    write(project / "rules/b.yaml", "rules:\n  - id: b\n    on: x.y\n    do: [{nope.send: {}}]\n")
    with pytest.raises(RuleSetError) as caught:
        load_ruleset(["rules"], "templates")
    assert len(caught.value.problems) == 1


def test_disabled_rules_load_but_do_not_listen(project: Path) -> None:
    write(project / "rules/a.yaml", GOOD.replace("    on:", "    enabled: false\n    on:"))
    ruleset = load_ruleset(["rules"], "templates")
    assert len(ruleset) == 1
    assert ruleset.matcher.rules_for("appointment.reminder_due") == []


def test_empty_rule_file_is_a_problem(project: Path) -> None:
    write(project / "rules/a.yaml", "# nothing yet\n")
    result = load_rules(["rules"], "templates")
    assert [p.message for p in result.problems] == ["empty rule file"]


def test_steps_of_earlier_actions_and_of_the_failed_action_are_visible_to_fallbacks(project: Path) -> None:
    write(project / "rules/a.yaml", """
        rules:
          - id: chain
            on: service_order.created
            do:
              - order.assign_technician: {order_id: "{{ data.id }}"}
                id: assign
              - sms.send:
                  to: "{{ data.phone }}"
                  body: "Tecnico {{ steps.assign.technician_name }}"
                id: tell
                fallback:
                  - email.send: {to: a@b.c, subject: s, body: "{{ steps.assign.technician_id }}"}
        """)
    ruleset = load_ruleset(["rules"], "templates")
    assert [a.key for a in ruleset.rules[0].actions] == ["assign", "tell"]
    assert ruleset.rules[0].actions[1].fallback[0].key == "do[1].fallback[0]"
