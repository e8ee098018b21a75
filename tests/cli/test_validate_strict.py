"""validate: warnings print and pass, --strict fails on them; schema --check covers the event catalogue."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cli import app
from tests.conftest import write

runner = CliRunner()

OUTSIDE_EVENT = """
rules:
  - id: erp-sync
    on: erp.customer_updated
    do:
      - log.write: {message: "{{ data.customer.id }}"}
"""
DECLARED = """
events:
  erp.customer_updated:
    data: {type: object, properties: {customer: {type: object, properties: {id: {type: string}}}}}
"""


def test_warnings_are_printed_and_validate_still_exits_0(project: Path) -> None:
    write(project / "rules/r.yaml", OUTSIDE_EVENT)
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "rules/r.yaml:3:9: rules[0].on: warning: no known event has type 'erp.customer_updated' "
        "(declare it under 'events:' in a rule file if another system posts it)",
        "1 warning in 1 file",
    ]


def test_strict_makes_warnings_fail(project: Path) -> None:
    write(project / "rules/r.yaml", OUTSIDE_EVENT)
    result = runner.invoke(app, ["validate", "--strict", "--format", "json"])
    assert result.exit_code == 1
    payload = json.loads(result.output)
    assert payload["ok"] is False and payload["rules"] == 1
    assert [p["severity"] for p in payload["problems"]] == ["warning"]


def test_strict_passes_once_the_event_is_declared(project: Path) -> None:
    write(project / "rules/r.yaml", DECLARED + OUTSIDE_EVENT)
    result = runner.invoke(app, ["validate", "--strict"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "ok: 1 rules in 1 file"


def test_strict_reports_a_data_path_the_declared_schema_lacks(project: Path) -> None:
    write(project / "rules/r.yaml", DECLARED + OUTSIDE_EVENT.replace("customer.id", "customer.nome"))
    result = runner.invoke(app, ["validate", "--strict"])
    assert result.exit_code == 1
    assert "warning: 'data.customer.nome' is not in the data of the events this rule" in result.output


def test_errors_and_warnings_are_counted_apart(project: Path) -> None:
    write(project / "rules/r.yaml", OUTSIDE_EVENT.replace("log.write", "log.writ"))
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == "1 problem, 1 warning in 1 file"


def test_schema_check_catches_a_stale_event_schema_and_events_page(project: Path) -> None:
    assert runner.invoke(app, ["schema"]).exit_code == 0
    assert runner.invoke(app, ["schema", "--check"]).exit_code == 0
    stale = project / "schemas/events/invoice.issued.schema.json"
    stale.write_text(stale.read_text().replace('"invoice"', '"fatura"'))
    result = runner.invoke(app, ["schema", "--check"])
    assert result.exit_code == 1
    assert "schemas/events/invoice.issued.schema.json: stale or missing" in result.output

    assert runner.invoke(app, ["schema"]).exit_code == 0
    (project / "schemas/events/invoice.gone.schema.json").write_text("{}")  # a type no longer emitted
    (project / "docs/events.md").write_text("# Events\n")
    result = runner.invoke(app, ["schema", "--check"])
    assert result.exit_code == 1
    assert "invoice.gone.schema.json: stale or missing" in result.output
    assert "docs/events.md: stale or missing" in result.output
    assert runner.invoke(app, ["schema"]).exit_code == 0
    assert not (project / "schemas/events/invoice.gone.schema.json").exists()
