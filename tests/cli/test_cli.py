"""The admin's commands: exit codes 0 (ok), 1 (problems or failures), 2 (usage)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

from typer.testing import CliRunner

from cli import app
from tests.conftest import REPO, write

runner = CliRunner()

GOOD = """
events:
  appointment.reminder_due: {description: posted by the ERP}
rules:
  - id: remind
    on: appointment.reminder_due
    do:
      - sms.send: {to: "{{ data.customer.phone }}", template: lembrete}
"""
TESTS = """
tests:
  - name: reminder goes out
    event: {type: appointment.reminder_due, data: {customer: {name: Ana, phone: "+5511987654321"}}}
    expect:
      match: [remind]
      actions: [{rule: remind, action: sms.send, text_contains: [Ana]}]
"""


def test_validate_ok(project: Path) -> None:
    write(project / "rules/r.yaml", GOOD)
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "ok: 1 rules in 1 file"


def test_validate_prints_file_line_column_path_message_and_exits_1(project: Path) -> None:
    write(project / "rules/r.yaml", GOOD.replace("sms.send", "smss.send"))
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "rules/r.yaml:7:9: rules[0].do[0].smss.send: unknown action 'smss.send' (did you mean 'sms.send'?)",
        "1 problem in 1 file",
    ]


def test_validate_json_for_ci(project: Path) -> None:
    write(project / "rules/r.yaml", GOOD.replace("template: lembrete", "template: nada"))
    result = runner.invoke(app, ["validate", "--format", "json"])
    payload = json.loads(result.output)
    assert result.exit_code == 1
    assert payload["ok"] is False and payload["rules"] == 0
    (problem,) = payload["problems"]
    assert set(problem) == {"file", "line", "column", "path", "message", "hint", "severity"}
    assert problem["severity"] == "error"
    assert problem["path"] == "rules[0].do[0].sms.send.template"


def test_unknown_option_is_a_usage_error(project: Path) -> None:
    assert runner.invoke(app, ["validate", "--bogus"]).exit_code == 2


def test_bad_config_is_a_usage_error_naming_the_line(project: Path) -> None:
    write(project / "bad.yaml", "timezone: UTC\ndatabase:\n  url: ${NOPE_NOT_SET}\n")
    result = runner.invoke(app, ["--config", "bad.yaml", "validate"])
    assert result.exit_code == 2
    assert "bad.yaml:3:8: database.url: environment variable 'NOPE_NOT_SET' is not set" in result.output


def test_dry_run_json_shape(project: Path) -> None:
    write(project / "rules/r.yaml", GOOD)
    write(project / "events.json", json.dumps(
        {"type": "appointment.reminder_due", "data": {"customer": {"name": "Ana", "phone": "+55119"}}}))
    result = runner.invoke(app, ["dry-run", "events.json", "--format", "json"])
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.output)["results"]
    (rule,) = entry["rules"]
    assert {"event", "rules"} <= set(entry) and rule["id"] == "remind" and rule["matched"] is True
    (action,) = rule["actions"]
    assert {"id", "action", "params", "preview"} <= set(action)
    assert action["preview"]["encoding"] == "GSM-7"


def test_dry_run_reads_json_lines_and_stdin(project: Path) -> None:
    write(project / "rules/r.yaml", GOOD)
    lines = "\n".join(json.dumps({"type": "x.y", "id": str(i)}) for i in range(3))
    result = runner.invoke(app, ["dry-run", "-", "--format", "json"], input=lines)
    assert result.exit_code == 0, result.output
    assert [r["event"]["id"] for r in json.loads(result.output)["results"]] == ["0", "1", "2"]


def test_dry_run_rejects_malformed_events_with_their_position(project: Path) -> None:
    write(project / "rules/r.yaml", GOOD)
    write(project / "events.yaml", "- type: ok.event\n- type: Not Valid\n  dta: {}\n")
    result = runner.invoke(app, ["dry-run", "events.yaml"])
    assert result.exit_code == 1
    assert "events.yaml:2:9: [1].type:" in result.output
    assert "events.yaml:3:3: [1].dta: unknown key 'dta' (did you mean 'data'?)" in result.output


def test_dry_run_refuses_a_bad_rule_set(project: Path) -> None:
    write(project / "rules/r.yaml", GOOD.replace("on:", "onn:"))
    write(project / "events.json", '{"type": "x.y"}')
    result = runner.invoke(app, ["dry-run", "events.json"])
    assert result.exit_code == 1
    assert "unknown key 'onn'" in result.output


def test_rule_tests_pass_and_write_junit(project: Path) -> None:
    write(project / "rules/r.yaml", GOOD)
    write(project / "rules/tests/t.yaml", TESTS)
    result = runner.invoke(app, ["test", "--junit", "report.xml"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "1 passed, 0 failed"
    suite = ET.parse(project / "report.xml").getroot()
    assert (suite.get("tests"), suite.get("failures")) == ("1", "0")


def test_rule_test_failure_prints_a_diff_and_exits_1(project: Path) -> None:
    write(project / "rules/r.yaml", GOOD)
    write(project / "rules/tests/t.yaml", TESTS.replace("text_contains: [Ana]", "params: {to: '+551100'}"))
    result = runner.invoke(app, ["test"])
    assert result.exit_code == 1
    assert "-  \"to\": \"+551100\"" in result.output
    assert "+  \"to\": \"+5511987654321\"" in result.output
    assert result.output.splitlines()[-1] == "0 passed, 1 failed"


def test_no_rule_tests_is_a_failure(project: Path) -> None:
    write(project / "rules/r.yaml", GOOD)
    assert runner.invoke(app, ["test"]).exit_code == 1


def test_schema_check_detects_stale_files(project: Path) -> None:
    assert runner.invoke(app, ["schema", "--check"]).exit_code == 1
    assert runner.invoke(app, ["schema"]).exit_code == 0
    assert runner.invoke(app, ["schema", "--check"]).exit_code == 0
    (project / "schemas/rules.schema.json").write_text("{}")
    assert runner.invoke(app, ["schema", "--check"]).exit_code == 1


def test_console_script_runs_the_projects_own_rules_and_tests() -> None:
    despacho = Path(sys.executable).parent / "despacho"
    for command in (["validate"], ["test"], ["schema", "--check"], ["dry-run", "examples/events.yaml"]):
        done = subprocess.run([str(despacho), *command], cwd=REPO, capture_output=True, text=True)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
