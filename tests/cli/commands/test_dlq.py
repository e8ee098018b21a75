"""`despacho dlq` as an admin reads it: open letters only, the rendered params masked, handled ones shown."""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import Session, select
from typer.testing import CliRunner

from cli import app
from store.models.runs import DeadLetter
from tests.engine.runtime.pipeline_helpers import (
    BACKUP,
    ScriptedConnector,
    make_driver,
    make_project,
    permanent,
)

RULES = BACKUP + """
  - id: portal
    on: service_order.assigned
    do:
      - http.request:
          url: "https://portal.example.com/os/{{ data.order.id }}?token=s3cr3t"
          headers: {Authorization: "Bearer abc123"}
"""

runner = CliRunner()


def dlq(config: Path, *args: str) -> str:
    result = runner.invoke(app, ["--config", str(config), "dlq", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_dlq_lists_open_letters_only_and_shows_params_masked_and_handled_by(tmp_path: Path) -> None:
    config = make_project(tmp_path, RULES)
    driver = make_driver(config)
    connectors = driver.core.runner.connectors
    connectors["backup"] = ScriptedConnector([permanent()], connectors["backup"])  # its fallback succeeds
    connectors["http"] = ScriptedConnector([permanent("404", "http_404")], connectors["http"])
    driver.emit("ops.backup_due", "b1")
    driver.emit("service_order.assigned", "o1", order={"id": "o1"})
    driver.drain()

    listed = dlq(config, "list")
    assert "portal" in listed and "nightly" not in listed  # the rule column: ids are cut to fit
    everything = dlq(config, "list", "--all")
    assert "nightly" in everything and "handled" in everything
    with Session(driver.core.db) as session:
        ids = {letter.rule_id: letter.id for letter in session.exec(select(DeadLetter))}
    shown = json.loads(dlq(config, "show", ids["portal"]))
    assert shown["dead_letter"]["params"] == {"url": "https://portal.example.com/os/o1?token=***",
                                              "headers": {"Authorization": "***"}}
    assert shown["step"]["params"] == shown["dead_letter"]["params"]
    handled = json.loads(dlq(config, "show", ids["nightly"]))["dead_letter"]
    assert handled["resolution"] == "handled" and handled["handled_by"]
