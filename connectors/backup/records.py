"""Backups in the database: one ``backups`` row per attempt, ``backup.failed`` and ``backup.missing``.

The rows are what ``/ready`` and the missing-backup watch read (the last success, the last
attempt's status), and what the API's ``/v1/backups`` lists. They live in the database being
backed up, so a restore brings back the rows of its snapshot's day: the repository
(``despacho backup list``) stays the truth about which snapshots exist.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from connectors.backup.errors import BackupError

if TYPE_CHECKING:
    from sqlmodel import Session

SessionFactory = Callable[[], AbstractContextManager["Session"]]


def start_record(session_factory: SessionFactory) -> str:
    from store.models import Backup

    with session_factory() as session:
        row = Backup(status="running")
        session.add(row)
        session.flush()
        return row.id


def finish_record(session_factory: SessionFactory, backup_id: str, *, snapshot_id: str, size_bytes: int,
                  manifest_sha256: str, verified: bool) -> None:
    from store.models import Backup
    from store.types import utcnow

    with session_factory() as session:
        row = session.get(Backup, backup_id)
        if row is None:  # a restore ran meanwhile; the repository has the snapshot
            return
        row.status, row.location, row.size_bytes = "succeeded", snapshot_id, size_bytes
        row.sha256, row.finished_at = manifest_sha256, utcnow()
        row.verified_at = row.finished_at if verified else None


def fail_record(session_factory: SessionFactory, backup_id: str | None, error: BackupError, *, stage: str,
                repository: str, snapshot_id: str | None = None) -> None:
    """Mark the attempt failed and record ``backup.failed`` in the same transaction."""
    from store.eventlog import record_event
    from store.models import Backup
    from store.types import utcnow

    message = str(error).splitlines()[0][:1000] if str(error) else error.__class__.__name__
    with session_factory() as session:
        row = session.get(Backup, backup_id) if backup_id else None
        if row is not None:
            row.status, row.error, row.finished_at = "failed", message, utcnow()
            row.location = snapshot_id or row.location
        record_event(session, "backup.failed", {
            "backup_id": backup_id, "stage": stage, "reason": error.reason, "error": message,
            "snapshot_id": snapshot_id, "repository": repository})


@dataclass(frozen=True)
class BackupHealth:
    last_success_at: datetime | None
    last_status: str | None  # of the newest finished attempt
    last_error: str | None

    def problem(self, now: datetime, max_age_hours: float) -> str | None:
        """Why backups are not healthy, or None."""
        if self.last_status == "failed":
            return f"the last backup failed: {self.last_error}"
        if self.last_success_at is None:
            return "no backup has succeeded yet"
        if now - self.last_success_at > timedelta(hours=max_age_hours):
            return f"no backup succeeded since {self.last_success_at.isoformat(timespec='minutes')}"
        return None


def backup_health(session: Session) -> BackupHealth:
    from sqlmodel import col, select

    from store.models import Backup

    live = col(Backup.deleted_at).is_(None)
    success = session.exec(select(Backup).where(live, Backup.status == "succeeded")
                           .order_by(col(Backup.started_at).desc()).limit(1)).first()
    finished = session.exec(select(Backup).where(live, Backup.status != "running")
                            .order_by(col(Backup.started_at).desc()).limit(1)).first()
    return BackupHealth(last_success_at=success.finished_at or success.started_at if success else None,
                        last_status=finished.status if finished else None,
                        last_error=finished.error if finished else None)


def record_missing(session: Session, health: BackupHealth, *, now: datetime, max_age_hours: float,
                   repository: str) -> bool:
    """``backup.missing`` once per day (its id is ``backup.missing:<date>``); True when stored now."""
    from store.eventlog import insert_event

    payload = {"last_success_at": health.last_success_at.isoformat() if health.last_success_at else None,
               "max_age_hours": max_age_hours, "repository": repository}
    return insert_event(session, f"backup.missing:{now.date().isoformat()}", "backup.missing", payload,
                        occurred_at=now, source="despacho")
