"""A project on the repository's rules and templates, with examples/events.yaml replayed and planned.

The runs come from the real pipeline (intake, relay, planner) at a fixed night time, so some are
held by quiet hours; no step is run, so no connector is called.
"""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from cli import app
from store.migrate import upgrade
from tests.engine.runtime.pipeline_helpers import Driver

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples" / "events.yaml"
NIGHT = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)  # 02:00 in São Paulo: inside every rule's quiet hours
runner = CliRunner()


def repo_project(root: Path, database_url: str | None = None) -> Path:
    """A config on the repository's rules; the database (default: SQLite in ``root``) migrated."""
    url = database_url or f"sqlite:///{root / 'despacho.db'}"
    config = root / "config.yaml"
    config.write_text(textwrap.dedent(f"""
        rules: {{path: {REPO / 'rules'}}}
        templates: {{path: {REPO / 'templates'}}}
        outbox: {{path: {root / 'outbox'}}}
        database: {{url: "{url}"}}
        broker: {{url: "stub://"}}
    """), encoding="utf-8")
    upgrade(url)
    return config


def despacho(config: Path, *args: str) -> Result:
    return runner.invoke(app, ["--config", str(config), *args])


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def plan_at(driver: Driver, moment: datetime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Relay every stored event as if it were ``moment`` (quiet hours read the clock)."""
    with monkeypatch.context() as patched:
        patched.setattr("engine.runtime.relay.utcnow", lambda: moment)
        while driver.core.relay.relay_once():
            pass
