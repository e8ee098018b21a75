"""The daemon's backup jobs: the missing-backup watch and the weekly deep check."""

from __future__ import annotations

import shutil
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from connectors.backup.settings import BackupSettings
from connectors.base import Runtime
from engine.runtime.backup_jobs import BackupJobs
from store.db import make_engine, session_scope
from store.models import Backup, Event
from store.types import utcnow
from tests.connectors.backup.conftest import PASSWORD, new_repository
from tests.support.catalogue import payload_errors


@pytest.fixture
def db(migrated_template: Path, tmp_path: Path) -> sa.Engine:
    path = tmp_path / "despacho.db"
    shutil.copy(migrated_template, path)
    return make_engine(f"sqlite:///{path}")


def jobs_for(db: sa.Engine, tmp_path: Path) -> BackupJobs:
    from engine.runtime.compose import backup_sources
    from engine.settings import DatabaseSettings, PathsSettings, Settings

    settings = BackupSettings(transport="restic", repository=str(tmp_path / "repo"),
                              staging=str(tmp_path / "staging"), read_data_subset="100%")
    whole = Settings(database=DatabaseSettings(url=db.url.render_as_string(hide_password=False)),
                     rules=PathsSettings(path=tmp_path / "rules"),
                     templates=PathsSettings(path=tmp_path / "templates"))
    runtime = Runtime(outbox=tmp_path / "outbox", session=partial(session_scope, db),
                      backup_sources=backup_sources(whole))
    return BackupJobs(settings, runtime, db)


def events(db: sa.Engine, event_type: str) -> list[Event]:
    with Session(db) as session:
        return list(session.exec(select(Event).where(Event.type == event_type)))


def test_the_watch_stores_backup_missing_once_a_day_until_a_backup_succeeds(db: sa.Engine,
                                                                           tmp_path: Path) -> None:
    jobs = jobs_for(db, tmp_path)
    assert jobs.watch() is True
    assert jobs.watch() is False  # the same day: once
    (event,) = events(db, "backup.missing")
    assert event.payload["last_success_at"] is None and payload_errors("backup.missing", event.payload) == []

    with session_scope(db) as session:
        session.add(Backup(status="succeeded", started_at=utcnow() - timedelta(hours=1),
                           finished_at=utcnow()))
    with session_scope(db) as session:
        session.execute(sa.delete(Event))
    assert jobs.watch() is False and events(db, "backup.missing") == []


def test_the_watch_counts_a_success_older_than_max_age_as_missing(db: sa.Engine, tmp_path: Path) -> None:
    with session_scope(db) as session:
        old = utcnow() - timedelta(hours=30)
        session.add(Backup(status="succeeded", started_at=old, finished_at=old))
    assert jobs_for(db, tmp_path).watch() is True
    (event,) = events(db, "backup.missing")
    assert event.payload["last_success_at"] is not None


def test_the_deep_check_records_backup_failed_when_the_data_is_damaged(
        db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    new_repository(tmp_path / "repo", tmp_path / "cache")
    monkeypatch.setenv("DESPACHO_BACKUP_PASSWORD", PASSWORD)
    monkeypatch.setenv("RESTIC_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "rules").mkdir()
    (tmp_path / "templates").mkdir()
    jobs = jobs_for(db, tmp_path)
    from connectors.backup import BackupConnector

    BackupConnector(jobs.settings, jobs.runtime).service().run(verify=False)
    assert jobs.deep_check() is True
    from tests.connectors.backup.test_verify import corrupt_largest_pack

    corrupt_largest_pack(tmp_path / "repo")
    assert jobs.deep_check() is False
    (event,) = events(db, "backup.failed")
    assert event.payload["stage"] == "check" and event.payload["reason"] == "corrupted"
    assert payload_errors("backup.failed", event.payload) == []
