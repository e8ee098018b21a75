"""Backups in the daemon: the weekly deep check and the watch for a missing backup.

Two built-in scheduler jobs, run by the leader only (``scheduler.BuiltinJob``), when
``connectors.backup.transport`` is ``restic``:

- ``backup-deep-check`` (every ``check_every``, 7 days by default): ``restic check
  --read-data-subset`` (10% by default) reads part of the stored data back and checks
  it; a failure is recorded as ``backup.failed`` with ``stage: check``;
- ``backup-watch`` (hourly): when no backup succeeded within ``max_age_hours`` (26 h),
  ``backup.missing`` is stored, at most once a day (its id is ``backup.missing:<date>``).

The nightly backup itself is a rule (``daily-backup`` in rules/operations.yaml), so an
admin sees and changes its time like any other schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
import structlog
from sqlmodel import Session

from connectors.backup import BackupConnector, BackupError, BackupSettings
from connectors.backup.records import backup_health, record_missing
from connectors.base import Runtime
from engine.runtime.scheduler import BuiltinJob
from store.durations import parse_duration
from store.types import utcnow

log = structlog.get_logger("despacho.backup")

WATCH_SECONDS = 3600.0


@dataclass
class BackupJobs:
    settings: BackupSettings
    runtime: Runtime
    db: sa.Engine

    def jobs(self) -> list[BuiltinJob]:
        return [BuiltinJob("backup-deep-check", parse_duration(self.settings.check_every).total_seconds(),
                           self.deep_check),
                BuiltinJob("backup-watch", WATCH_SECONDS, self.watch)]

    def deep_check(self) -> bool:
        """True when the repository passed; a failure is logged and recorded (never raised)."""
        try:
            BackupConnector(self.settings, self.runtime).service().deep_check()
        except BackupError as exc:
            log.error("backup_check_failed", reason=exc.reason, error=str(exc))
            return False
        log.info("backup_check_passed", subset=self.settings.read_data_subset)
        return True

    def watch(self) -> bool:
        """True when ``backup.missing`` was stored now."""
        import re

        now = utcnow()
        with Session(self.db) as session:
            health = backup_health(session)
            if health.last_success_at is not None and \
                    (now - health.last_success_at).total_seconds() <= self.settings.max_age_hours * 3600:
                return False
            stored = record_missing(session, health, now=now, max_age_hours=self.settings.max_age_hours,
                                    repository=re.sub(r"//[^/@]*@", "//***@", self.settings.repository))
            session.commit()
        if stored:
            log.warning("backup_missing", last_success_at=health.last_success_at)
        return stored
