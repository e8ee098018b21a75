"""``despacho backup base | push-wal | restore --to-time``: a point-in-time restore on PostgreSQL, as an
admin runs it, from a private server that archives its WAL into a restic repository (real restic)."""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from cli import app
from connectors.backup.postgres_pitr import archive_command
from store.migrate import upgrade
from tests.support.postgres import archiving_postgres, switch_and_wait_archived, throwaway_pg_database

runner = CliRunner()
PASSWORD = "pitr-repository-password"


def _insert_customers(dsn: str, first: int, last: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO customers (id, name, tier, preferred_channel, opt_outs, time_zone, created_at, "
            "updated_at) SELECT 'c-' || lpad(g::text, 4, '0'), 'Cliente ' || g, 'standard', 'whatsapp', "
            "'[]', 'America/Sao_Paulo', now(), now() FROM generate_series(%s::int, %s::int) g", (first, last))


def _customer_ids(url: str) -> list[str]:
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM customers ORDER BY id")]


def _backup(config: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(config), "backup", *args],
                           env={"DESPACHO_BACKUP_PASSWORD": PASSWORD, "DESPACHO_CONFIG": None})
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def _config(tmp_path: Path, database_url: str, wal_archive: Path) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database:\n  url: {database_url}\n"
        "timezone: America/Sao_Paulo\n"
        "connectors:\n  backup:\n    transport: restic\n"
        f"    repository: {tmp_path / 'repository'}\n"
        f"    staging: {tmp_path / 'staging'}\n"
        f"    wal_archive: {wal_archive}\n", encoding="utf-8")
    return config


def test_restore_to_a_noted_time_brings_back_exactly_the_rows_of_that_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESTIC_CACHE_DIR", str(tmp_path / "restic-cache"))
    with archiving_postgres(archive_command) as (server, archive), throwaway_pg_database() as target:
        admin = f"host=127.0.0.1 port={server.port} user=postgres dbname=postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE despacho")
        source = f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/despacho"
        source_dsn = f"host=127.0.0.1 port={server.port} user=postgres dbname=despacho"
        upgrade(source)
        config = _config(tmp_path, source, archive)
        _insert_customers(source_dsn, 1, 10)

        code, out = _backup(config, "base")
        assert code == 0, out
        assert "tag pg-base" in out

        _insert_customers(source_dsn, 11, 20)
        time.sleep(0.02)
        noted = datetime.now(UTC)
        time.sleep(0.02)
        expected = [f"c-{i:04d}" for i in range(1, 21)]
        _insert_customers(source_dsn, 21, 30)
        with psycopg.connect(source_dsn, autocommit=True) as conn:
            conn.execute("DELETE FROM customers WHERE id <= 'c-0005'")
        switch_and_wait_archived(admin)

        code, out = _backup(config, "restore", "latest", "--to-time", noted.isoformat(), "--target", target)
        assert code == 0, out
        assert _customer_ids(target) == expected
        assert "customers" in out and "20" in out and "recovered to" in out

        # a target with data is refused before the long work starts, and nothing in it changes
        code, out = _backup(config, "restore", "latest", "--to-time", noted.isoformat(), "--target", target)
        assert code == 1 and "--force" in out
        assert _customer_ids(target) == expected

        # the disk holding the archive is lost: the WAL comes from the repository (backup run pushed it)
        code, out = _backup(config, "run", "--no-verify")
        assert code == 0, out
        code, out = _backup(config, "list", "--tag", "pg-wal")
        assert code == 0 and "1 snapshots" in out, out
        shutil.rmtree(archive)
        code, out = _backup(config, "restore", "latest", "--to-time", noted.isoformat(), "--target", target,
                            "--force")
        assert code == 0, out
        assert "safety backup of the target" in out and "snapshot" in out
        assert _customer_ids(target) == expected

        # retention reaches the point-in-time snapshots too, without the (lost) archive folder
        code, out = _backup(config, "forget", "--prune")
        assert code == 0, out
        code, out = _backup(config, "list", "--tag", "pg-base")
        assert code == 0 and "1 snapshots" in out, out


def test_to_time_that_is_not_a_time_is_a_usage_error(tmp_path: Path) -> None:
    config = _config(tmp_path, f"sqlite:///{tmp_path / 'despacho.db'}", tmp_path / "wal")
    code, out = _backup(config, "restore", "latest", "--to-time", "yesterday'; DROP TABLE customers")
    assert code == 2 and "is not a time" in out


def test_to_time_on_sqlite_says_what_can_be_had_instead(tmp_path: Path, migrated_template: Path) -> None:
    database = tmp_path / "despacho.db"
    shutil.copy(migrated_template, database)
    config = _config(tmp_path, f"sqlite:///{database}", tmp_path / "wal")
    code, out = _backup(config, "restore", "latest", "--to-time", "2026-12-05T10:00")
    assert code == 1 and "PostgreSQL" in out and "events" in out
