"""``despacho status``: held runs counted as held (not queued) with the earliest until, and a JSON form."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.commands.replay import EXAMPLES, NIGHT, as_json, despacho, plan_at, repo_project
from tests.engine.runtime.pipeline_helpers import make_driver


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = repo_project(tmp_path)
    assert despacho(config, "emit", "--file", str(EXAMPLES)).exit_code == 0
    driver = make_driver(config)
    plan_at(driver, NIGHT, monkeypatch)
    driver.core.close()
    return config


def test_held_runs_are_counted_as_held_with_the_earliest_until(config: Path) -> None:
    body = as_json(despacho(config, "status", "--format", "json"))
    assert body["held_runs"] == 7
    assert body["held_until"] == "2026-12-01T11:00:00+00:00"  # 08:00 in São Paulo, the earliest window end
    whatsapp = body["connectors"]["whatsapp"]
    assert (whatsapp["held"], whatsapp["queued"]) == (2, 0)  # quiet hours: held, not queued work
    assert body["connectors"]["accounting"]["queued"] == 2  # nothing holds these
    assert body["undispatched_events"] == 0


def test_the_text_form_has_a_held_column_and_line(config: Path) -> None:
    result = despacho(config, "status")
    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if "connector" in line)
    assert header.split("┃")[-2].strip() == "held"
    assert "held runs: 7 (the earliest until 2026-12-01T11:00:00+00:00)" in result.stdout


def test_an_empty_database_has_nothing_held(tmp_path: Path) -> None:
    body = as_json(despacho(repo_project(tmp_path), "status", "--format", "json"))
    assert (body["held_runs"], body["held_until"], body["connectors"]) == (0, None, {})
