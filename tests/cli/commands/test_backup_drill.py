"""The restore drill: yesterday's backup, restored into an empty database, still runs the company's rules.

Yesterday's snapshot (dated with ``--time``) holds the database, the rules and the templates. The
drill restores the database into an empty file and the files into a folder, then runs the rule unit
tests of the restored rules (``despacho test``) and a scheduled rule against the restored database
(``despacho dry-run --rule``), which must see yesterday's rows, not today's.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from cli import app
from connectors.backup.restic import Restic
from store.db import make_engine
from tests.conftest import REPO

runner = CliRunner()
PASSWORD = "drill-repository-password"
RULE = "invoice-overdue-3d-sms"  # daily for_each over invoices.overdue
AT = "2026-12-01T09:00:00-03:00"


def _run(config: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(config), *args],
                           env={"DESPACHO_BACKUP_PASSWORD": PASSWORD, "DESPACHO_CONFIG": None})
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def _write_config(path: Path, database: Path, rules: Path, templates: Path, tmp_path: Path) -> Path:
    path.write_text(
        f"rules:\n  path: {rules}\ntemplates:\n  path: {templates}\n"
        f"database:\n  url: sqlite:///{database}\n"
        "connectors:\n  backup:\n    transport: restic\n"
        f"    repository: {tmp_path / 'repository'}\n    staging: {tmp_path / 'staging'}\n", encoding="utf-8")
    return path


def _scheduled(config: Path) -> list[object]:
    """What the scheduled rule would do at AT, without the rule files' paths (they differ by folder)."""
    code, out = _run(config, "dry-run", "--rule", RULE, "--at", AT, "--format", "json")
    assert code == 0, out
    return [_without_files(result) for result in json.loads(out)["results"]]


def _without_files(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_files(v) for k, v in value.items() if k != "file"}
    if isinstance(value, list):
        return [_without_files(v) for v in value]
    return value


def test_yesterdays_backup_restores_into_an_empty_database_and_passes_the_rule_tests(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESTIC_CACHE_DIR", str(tmp_path / "restic-cache"))
    live = tmp_path / "live"
    shutil.copytree(REPO / "rules", live / "rules")
    shutil.copytree(REPO / "templates", live / "templates")
    database = live / "var" / "despacho.db"
    config = _write_config(live / "config.yaml", database, live / "rules", live / "templates", tmp_path)
    assert _run(config, "db", "upgrade")[0] == 0
    code, out = _run(config, "db", "seed", "--demo", "--customers", "40", "--technicians", "5", "--orders",
                     "300", "--at", "2026-12-01T12:00:00")
    assert code == 0, out
    yesterdays_view = _scheduled(config)
    assert yesterdays_view, "the demo company has overdue invoices for the drill to find"

    yesterday = datetime.now(UTC) - timedelta(days=1)
    code, out = _run(config, "backup", "run", "--no-verify", "--time",
                     yesterday.strftime("%Y-%m-%dT%H:%M:%S"))
    assert code == 0, out
    # today: the invoices are settled and a rule file is broken; today's backup records that
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE invoices SET status = 'paid', amount_paid = amount"))
    engine.dispose()
    (live / "rules" / "invoices.yaml").write_text("rules: [oops\n", encoding="utf-8")
    code, out = _run(config, "backup", "run", "--no-verify")
    assert code == 0, out

    code, out = _run(config, "backup", "list", "--format", "json")
    assert code == 0, out
    listed = json.loads(out)
    assert len(listed) == 2
    yesterdays, todays = listed  # oldest first
    gap = datetime.fromisoformat(todays["time"]) - datetime.fromisoformat(yesterdays["time"])
    assert gap > timedelta(hours=20)
    drill_id = yesterdays["id"]

    drill = tmp_path / "drill"
    drill_db = drill / "despacho.db"
    code, out = _run(config, "backup", "restore", drill_id, "--target", f"sqlite:///{drill_db}")
    assert code == 0, out
    assert "invoices" in out
    files = drill / "files"
    Restic(str(tmp_path / "repository"), PASSWORD).restore(drill_id, files)
    snapshot_root = next(files.rglob("manifest.json")).parent
    drill_config = _write_config(drill / "config.yaml", drill_db, snapshot_root / "files" / "rules",
                                 snapshot_root / "files" / "templates", tmp_path)

    code, out = _run(drill_config, "validate")
    assert code == 0, out
    code, out = _run(drill_config, "test")
    assert code == 0, out
    assert _scheduled(drill_config) == yesterdays_view  # yesterday's unpaid invoices, not today's
    assert _run(config, "validate")[0] == 1  # today's broken rule file did not leak into the drill
