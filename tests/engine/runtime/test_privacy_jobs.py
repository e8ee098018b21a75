"""The daily purge is one of the leader's built-in jobs, at the configured interval."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from engine.runtime.privacy_jobs import PrivacyJobs
from store.db import make_engine
from store.models import AuditLogEntry
from store.privacy.settings import PrivacySettings
from tests.support.databases import sqlite_copy


def test_the_purge_job_runs_daily_and_records_what_it_purged(migrated_template: Path, tmp_path: Path) -> None:
    engine = make_engine(sqlite_copy(migrated_template, tmp_path))
    try:
        jobs = PrivacyJobs(PrivacySettings(), engine)
        (job,) = jobs.jobs()
        assert (job.name, job.every) == ("privacy-purge", 86400.0)
        report = job.run()
        assert report is not None and report.at <= datetime.now(UTC)
        with engine.connect() as connection:
            actions = connection.execute(sa.select(AuditLogEntry.__table__.c.action)).scalars().all()
        assert actions == ["privacy.purge"]
    finally:
        engine.dispose()


def test_a_daemon_schedules_the_purge(tmp_path: Path, migrated_template: Path) -> None:
    from engine.runtime.daemon import Daemon, Parts
    from engine.settings import DatabaseSettings, PathsSettings, Settings

    (tmp_path / "rules").mkdir()
    (tmp_path / "templates").mkdir()
    settings = Settings(database=DatabaseSettings(url=sqlite_copy(migrated_template, tmp_path)),
                        rules=PathsSettings(path=tmp_path / "rules"),
                        templates=PathsSettings(path=tmp_path / "templates"))
    daemon = Daemon(settings, Parts(relay=False, workers=False, scheduler=True, watch_rules=False))
    try:
        assert "privacy-purge" in {job.name for job in daemon._builtin_jobs()}
    finally:
        daemon.core.db.dispose()
