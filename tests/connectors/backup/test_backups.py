"""Backing up real SQLite and PostgreSQL databases while events keep arriving."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from sqlmodel import Session, select

from connectors.backup.errors import RepositoryUnavailable
from connectors.backup.manifest import Manifest
from connectors.backup.restic import Restic
from connectors.backup.settings import BackupSettings
from store.db import make_engine
from store.models import Backup, Event
from store.types import utcnow
from tests.connectors.backup.conftest import ServiceFactory
from tests.connectors.backup.support import count, events_flowing
from tests.support.catalogue import payload_errors


def test_sqlite_backup_while_events_flow_holds_whole_transactions(make_service: ServiceFactory,
                                                                 sqlite_url: str, restic: Restic,
                                                                 tmp_path: Path) -> None:
    service = make_service(sqlite_url)
    with events_flowing(sqlite_url) as written:
        result = service.run(verify=True)
        during = written[0]
    manifest = result.outcome.manifest
    # the writer commits 5 events at a time: a copy holding part of a transaction would show it
    assert manifest.tables["events"] % 5 == 0 and 50 <= manifest.tables["events"] <= during
    assert result.verified is not None and result.verified.tables == manifest.tables
    copy = tmp_path / "copy.sqlite3"
    with copy.open("wb") as out:
        root = restic.snapshot(result.snapshot_id).paths[0]
        restic.dump(result.snapshot_id, f"{root}/database/despacho.sqlite3", out)
    connection = sqlite3.connect(copy)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert connection.execute("SELECT count(*) FROM events").fetchone() == (manifest.tables["events"],)
    finally:
        connection.close()


def test_postgres_backup_while_events_flow_restores_to_its_manifest(make_service: ServiceFactory,
                                                                   pg_url: str) -> None:
    service = make_service(pg_url)
    with events_flowing(pg_url) as written:
        result = service.run(verify=True)  # the test restore's counts must equal the manifest's
        during = written[0]
    manifest = result.outcome.manifest
    assert manifest.engine == "postgresql" and manifest.engine_version.startswith("15")
    assert manifest.tables["events"] % 5 == 0 and 50 <= manifest.tables["events"] <= during
    assert result.verified is not None and result.verified.tables == manifest.tables
    assert set(manifest.dumps) == {"database/despacho.pgdump", "database/globals.sql"}


def test_manifest_records_engine_revision_rows_digests_files_and_rules_commit(
        make_service: ServiceFactory, sqlite_url: str, restic: Restic, rules_folder: Path) -> None:
    from store.migrate import head_revision

    result = make_service(sqlite_url).run(verify=False)
    snapshot = restic.snapshot(result.snapshot_id)
    raw = io.BytesIO()
    restic.dump(snapshot.id, f"{snapshot.paths[0]}/manifest.json", raw)
    manifest = Manifest.from_json(raw.getvalue())
    commit = subprocess.run(["git", "-C", str(rules_folder), "rev-parse", "HEAD"], capture_output=True,
                            text=True, check=True).stdout.strip()
    assert manifest.rules_commit == commit and manifest.rules_dirty is False
    assert manifest.engine == "sqlite" and manifest.revision == head_revision()
    assert manifest.tables["customers"] == 0 and manifest.tables["alembic_version"] == 1
    (entry,) = manifest.dumps.values()
    assert len(entry.sha256) == 64 and entry.size > 0
    assert "files/rules/r.yaml" in manifest.files and "files/templates/sms/aviso.txt" in manifest.files
    assert json.loads(raw.getvalue())["format"] == 1


def test_second_backup_stores_only_what_changed(make_service: ServiceFactory, sqlite_url: str) -> None:
    import os

    path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:  # 8 MB that does not compress: several restic chunks
        connection.execute("CREATE TABLE ballast (id INTEGER PRIMARY KEY, blob BLOB)")
        connection.executemany("INSERT INTO ballast (blob) VALUES (?)",
                               [(os.urandom(4096),) for _ in range(2000)])
    service = make_service(sqlite_url)
    first = service.run(verify=False)
    with events_flowing(sqlite_url):
        pass
    second = service.run(verify=False)
    assert first.outcome.summary.data_added > 8_000_000
    assert second.outcome.summary.data_added < first.outcome.summary.data_added / 2


def test_a_backup_that_cannot_open_the_repository_is_recorded_failed_with_an_event(
        make_service: ServiceFactory, sqlite_url: str, restic: Restic, backup_settings: BackupSettings,
        tmp_path: Path) -> None:
    from connectors.backup.backups import BackupSources
    from connectors.backup.service import BackupService

    locked_out = Restic(restic.repository, "wrong password", env={"RESTIC_CACHE_DIR": str(tmp_path / "c")})
    good = make_service(sqlite_url)
    service = BackupService(backup_settings, BackupSources(sqlite_url), lambda: locked_out,
                            good.session_factory)
    with pytest.raises(RepositoryUnavailable):
        service.run()
    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        (row,) = session.exec(select(Backup)).all()
        (event,) = session.exec(select(Event).where(Event.type == "backup.failed")).all()
    engine.dispose()
    assert row.status == "failed" and row.finished_at is not None and "password" in (row.error or "")
    assert event.payload["reason"] == "unavailable" and event.payload["stage"] == "backup"
    assert payload_errors("backup.failed", event.payload) == []
    assert "wrong password" not in json.dumps(event.payload)


def test_a_successful_backup_is_recorded_with_its_snapshot(make_service: ServiceFactory,
                                                           sqlite_url: str) -> None:
    from connectors.backup.records import backup_health

    result = make_service(sqlite_url).run(verify=False)
    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        row = session.exec(select(Backup).where(Backup.id == result.backup_id)).one()
        health = backup_health(session)
    engine.dispose()
    assert row.status == "succeeded" and row.location == result.snapshot_id and (row.size_bytes or 0) > 0
    assert health.problem(utcnow(), 26) is None
    assert count(sqlite_url, "backups") == 1
