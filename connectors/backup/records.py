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
    from store.types import new_id, utcnow

    backup_id = new_id()
    with session_factory() as session:
        session.execute(Backup.__table__.insert().values(id=backup_id, status="running", started_at=utcnow()))
    return backup_id


def finish_record(session_factory: SessionFactory, backup_id: str, *, snapshot_id: str, size_bytes: int,
                  manifest_sha256: str, verified: bool) -> None:
    from store.types import utcnow

    finished_at = utcnow()
    values: dict[str, object] = {"status": "succeeded", "location": snapshot_id, "size_bytes": size_bytes,
                                 "sha256": manifest_sha256, "finished_at": finished_at,
                                 "verified_at": finished_at if verified else None}
    with session_factory() as session:  # a restore may have run meanwhile: then no row is updated
        _update_record(session, backup_id, values)


def fail_record(session_factory: SessionFactory, backup_id: str | None, error: BackupError, *, stage: str,
                repository: str, snapshot_id: str | None = None) -> None:
    """Mark the attempt failed and record ``backup.failed`` in the same transaction."""
    from store.eventlog import record_event
    from store.types import utcnow

    message = str(error).splitlines()[0][:1000] if str(error) else error.__class__.__name__
    with session_factory() as session:
        if backup_id:
            values: dict[str, object] = {"status": "failed", "error": message, "finished_at": utcnow()}
            if snapshot_id:
                values["location"] = snapshot_id
            _update_record(session, backup_id, values)
        record_event(session, "backup.failed", {
            "backup_id": backup_id, "stage": stage, "reason": error.reason, "error": message,
            "snapshot_id": snapshot_id, "repository": repository})


def _update_record(session: Session, backup_id: str, values: dict[str, object]) -> None:
    """Update only the columns the table has: ``db upgrade`` backs up a database of an older schema
    (before ``verified_at``, say), through the records of the code about to migrate it."""
    import sqlalchemy as sa

    from store.models import Backup

    table = Backup.__table__
    present = {column["name"] for column in sa.inspect(session.connection()).get_columns(table.name)}
    kept = {name: value for name, value in values.items() if name in present}
    session.execute(table.update().where(table.c.id == backup_id).values(**kept))


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
