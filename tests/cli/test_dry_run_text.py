"""`despacho dry-run` in text: holds, delays, emitted events and loops are shown under their actions."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cli import app
from tests.conftest import write

runner = CliRunner()

RULES = """
rules:
  - id: escalate
    on: invoice.overdue
    quiet_hours: {from: "20:00", to: "09:00", timezone: America/Sao_Paulo}
    do:
      - log.write: {message: "vencida"}
      - event.emit: {type: invoice.escalated, data: {number: "{{ data.invoice.number }}"}}
        delay: 1h
  - id: again
    on: invoice.escalated
    do:
      - event.emit: {type: invoice.overdue, data: {invoice: {number: "{{ data.number }}"}}}
"""
EVENT = {"type": "invoice.overdue", "id": "e1", "data": {"invoice": {"number": "FAT-1"}}}


def run(project: Path, *args: str) -> str:
    write(project / "rules/r.yaml", RULES)
    (project / "e.json").write_text(json.dumps(EVENT))
    result = runner.invoke(app, ["dry-run", "e.json", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_text_shows_hold_delay_follow_up_and_loop(project: Path) -> None:
    output = run(project, "--now", "2026-12-01T23:00:00Z")  # 20:00 in São Paulo: quiet
    assert "held by quiet hours until 2026-12-02T12:00+00:00 (America/Sao_Paulo)" in output
    assert "runs at 2026-12-02T12:00+00:00 (held by quiet hours)" in output
    assert "runs at 2026-12-02T13:00+00:00 (after its delay)" in output
    assert "emits invoice.escalated:" in output
    assert "rule again (rules/r.yaml:9): matched" in output
    assert "loop: escalate -> again -> escalate (not followed again)" in output


def test_actions_that_run_at_once_show_no_time(project: Path) -> None:
    output = run(project, "--now", "2026-12-01T15:00:00Z")
    assert "held by quiet hours" not in output
    assert "runs at 2026-12-01T16:00+00:00 (after its delay)" in output
    assert output.count("runs at") == 1
