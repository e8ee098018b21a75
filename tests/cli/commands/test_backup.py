"""``despacho backup ...`` and ``despacho db upgrade`` as an admin runs them (real restic, SQLite)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from store import migrate
from tests.connectors.backup.conftest import PASSWORD, new_repository

runner = CliRunner()


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    new_repository(tmp_path / "repo", tmp_path / "cache")
    monkeypatch.setenv("DESPACHO_BACKUP_PASSWORD", PASSWORD)
    monkeypatch.setenv("RESTIC_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "rules").mkdir()
    (tmp_path / "templates").mkdir()
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps({
        "rules": {"path": str(tmp_path / "rules")}, "templates": {"path": str(tmp_path / "templates")},
        "database": {"url": f"sqlite:///{tmp_path / 'despacho.db'}"},
        "connectors": {"backup": {"transport": "restic", "repository": str(tmp_path / "repo"),
                                  "staging": str(tmp_path / "staging"), "keep_daily": 2, "keep_weekly": 0,
                                  "keep_monthly": 0}},
    }), encoding="utf-8")
    return path


def despacho(config: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["--config", str(config), *args])
    assert result.exit_code == code, result.output
    return result.output


def add_customer(config: Path, name: str) -> None:
    with sqlite3.connect(config.parent / "despacho.db") as connection:
        connection.execute("INSERT INTO customers (id, name, tier, preferred_channel, opt_outs, time_zone, "
                           "created_at, updated_at) VALUES (?, ?, 'standard', 'whatsapp', '[]', "
                           "'America/Sao_Paulo', '2026-12-01 10:00:00', '2026-12-01 10:00:00')",
                           (name.lower(), name))


def test_run_list_verify_and_restore_as_an_admin_does(config: Path) -> None:
    despacho(config, "db", "upgrade")
    add_customer(config, "Maria")
    ran = json.loads(despacho(config, "backup", "run", "--format", "json"))
    assert ran["verified"] is True and ran["tables"]["customers"] == 1
    snapshot = ran["snapshot_id"]

    listed = json.loads(despacho(config, "backup", "list", "--details", "--format", "json"))
    assert [s["id"] for s in listed] == [snapshot] and listed[0]["rows"] == sum(ran["tables"].values())
    assert "ok" in despacho(config, "backup", "verify", snapshot)

    refused = despacho(config, "backup", "restore", snapshot, code=1)
    assert "--force" in refused and "holds data" in refused
    add_customer(config, "Pedro")
    restored = despacho(config, "backup", "restore", snapshot, "--force")
    assert "safety backup of the target: snapshot" in restored
    assert "customers" in restored
    with sqlite3.connect(config.parent / "despacho.db") as connection:
        assert connection.execute("SELECT name FROM customers").fetchall() == [("Maria",)]


def test_hostile_snapshot_ids_are_refused_before_restic_runs(config: Path) -> None:
    despacho(config, "db", "upgrade")
    output = despacho(config, "backup", "restore", "../../etc/passwd", "--force", code=1)
    assert "is not a snapshot id" in output


def test_forget_applies_the_configured_retention(config: Path) -> None:
    despacho(config, "db", "upgrade")
    for day in ("2026-11-01", "2026-11-02", "2026-11-03"):
        despacho(config, "backup", "run", "--no-verify", "--time", f"{day}T05:00:00+00:00")
    output = despacho(config, "backup", "forget", "--prune")
    assert "2 snapshots kept, 1 forgotten, unused data pruned" in output


def test_no_password_is_a_clear_failure_that_names_the_variable(config: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    despacho(config, "db", "upgrade")
    monkeypatch.delenv("DESPACHO_BACKUP_PASSWORD")
    output = despacho(config, "backup", "run", code=1)
    assert "export DESPACHO_BACKUP_PASSWORD" in output


def test_db_upgrade_backs_up_first_and_a_failed_migration_prints_the_restore_command(config: Path) -> None:
    url = f"sqlite:///{config.parent / 'despacho.db'}"
    migrate.upgrade(url, "0006")
    add_customer(config, "Maria")
    with sqlite3.connect(config.parent / "despacho.db") as connection:  # the next migration's table
        tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    head = migrate.head_revision()
    created = _tables_created_by_head(url, tables)
    with sqlite3.connect(config.parent / "despacho.db") as connection:
        connection.execute(f'CREATE TABLE "{created}" (id INTEGER)')  # makes the migration fail

    output = despacho(config, "db", "upgrade", code=1)

    assert "backed up before migrating: snapshot" in output
    snapshot = output.split("backed up before migrating: snapshot ")[1].split()[0]
    assert f"despacho backup restore {snapshot} --force" in output
    assert migrate.current_revision(url) == "0006" != head


def test_db_upgrade_without_pending_migrations_or_with_no_backup_takes_none(config: Path) -> None:
    assert "backed up" not in despacho(config, "db", "upgrade")  # a new database: nothing to save
    assert "backed up" not in despacho(config, "db", "upgrade")  # nothing to migrate
    migrate.downgrade(f"sqlite:///{config.parent / 'despacho.db'}", "0006")
    assert "backed up" not in despacho(config, "db", "upgrade", "--no-backup")


def _tables_created_by_head(url: str, before: set[str]) -> str:
    """A table the newest migration creates (found by running it on a scratch copy)."""
    import shutil
    import tempfile

    source = Path(url.removeprefix("sqlite:///"))
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "copy.db"
        shutil.copy(source, copy)
        migrate.upgrade(f"sqlite:///{copy}")
        with sqlite3.connect(copy) as connection:
            after = {r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    created = sorted(after - before)
    assert created, "the newest migration creates no table: pick another way to make it fail"
    return created[0]


def test_an_import_backs_up_first_and_a_dry_run_does_not(config: Path) -> None:
    despacho(config, "db", "upgrade")
    (config.parent / "c.csv").write_text("id;Nome\nC-1;Maria\n", encoding="utf-8")
    (config.parent / "m.yaml").write_text("source: planilha\nid_column: id\ncolumns: {name: Nome}\n",
                                          encoding="utf-8")
    files = (str(config.parent / "c.csv"), "-m", str(config.parent / "m.yaml"))
    dry = despacho(config, "import", "customers", *files, "--dry-run")
    real = despacho(config, "import", "customers", *files)

    assert "backed up" not in dry and "backed up before importing: snapshot" in real
    listed = json.loads(despacho(config, "backup", "list", "--format", "json"))
    assert len(listed) == 1 and "pre-import" in listed[0]["tags"]
