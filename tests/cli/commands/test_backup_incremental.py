"""``despacho backup run --full | --incremental`` as an admin types them: the refusals are one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from store.migrate import upgrade
from tests.support.postgres import throwaway_pg_database

runner = CliRunner()


def _run(config: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(config), "backup", "run", *args],
                           env={"DESPACHO_BACKUP_PASSWORD": "cli-incremental", "DESPACHO_CONFIG": None})
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def _config(tmp_path: Path, url: str, wal: bool) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database:\n  url: {url}\nconnectors:\n  backup:\n    transport: restic\n"
        f"    repository: {tmp_path / 'repository'}\n    staging: {tmp_path / 'staging'}\n"
        + (f"    wal_archive: {tmp_path / 'wal'}\n" if wal else ""), encoding="utf-8")
    return config


def test_incremental_without_any_base_backup_says_to_take_a_full_one_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESTIC_CACHE_DIR", str(tmp_path / "cache"))
    with throwaway_pg_database() as url:
        upgrade(url)
        code, out = _run(_config(tmp_path, url, wal=True), "--incremental")
    assert code == 1 and "needs a base backup" in out and "backup run --full" in out


def test_incremental_without_wal_archive_and_both_flags_are_refused(tmp_path: Path,
                                                                    migrated_template: Path) -> None:
    import shutil

    database = tmp_path / "despacho.db"
    shutil.copy(migrated_template, database)
    config = _config(tmp_path, f"sqlite:///{database}", wal=False)
    code, out = _run(config, "--incremental")
    assert code == 1 and "wal_archive" in out and "PostgreSQL" in out
    code, out = _run(config, "--full", "--incremental")
    assert code == 2 and "exclude each other" in out
