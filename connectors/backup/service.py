"""The backup verbs as despacho runs them: each attempt recorded, each failure an event.

``backup.run`` (the action), ``despacho backup ...`` (the CLI), ``despacho db upgrade``
and the scheduler's jobs all come through here, so a backup is recorded, verified and
reported the same way whoever asked for it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property

from connectors.backup.backups import BackupOutcome, BackupSources, Step, run_backup
from connectors.backup.errors import BackupError
from connectors.backup.records import SessionFactory, fail_record, finish_record, start_record
from connectors.backup.restic import ForgetResult, Restic
from connectors.backup.restore import RestoreReport, restore_snapshot
from connectors.backup.settings import BackupSettings
from connectors.backup.verify import VerifyReport, verify_snapshot


@dataclass(frozen=True)
class RunResult:
    outcome: BackupOutcome
    backup_id: str | None
    verified: VerifyReport | None
    forgotten: ForgetResult | None

    @property
    def snapshot_id(self) -> str:
        return self.outcome.snapshot_id


class BackupService:
    def __init__(self, settings: BackupSettings, sources: BackupSources, open_restic: Callable[[], Restic],
                 session_factory: SessionFactory | None = None) -> None:
        self.settings = settings
        self.sources = sources
        self._open_restic = open_restic
        self.session_factory = session_factory

    @cached_property
    def restic(self) -> Restic:
        return self._open_restic()

    @property
    def repository(self) -> str:
        """The repository fit to show (credentials masked)."""
        import re

        return re.sub(r"//[^/@]*@", "//***@", self.settings.repository)

    def run(self, *, tags: Sequence[str] = (), at: datetime | None = None, verify: bool | None = None,
            forget: bool = False, step: Step | None = None) -> RunResult:
        """Back up; verify (default: ``settings.verify``); apply retention when ``forget``."""
        from pathlib import Path

        backup_id = start_record(self.session_factory) if self.session_factory else None
        stage, snapshot_id = "backup", None
        try:
            outcome = run_backup(self.restic, self.sources, Path(self.settings.staging), tags=tags, at=at,
                                 step=step)
            snapshot_id = outcome.snapshot_id
            if self.settings.wal_archive:  # point in time (pitr.py): the WAL archive joins the repository
                from connectors.backup.pitr import push_wal

                stage = "wal"
                push_wal(self.restic, Path(self.settings.wal_archive), time=at)
            verified = None
            if self.settings.verify if verify is None else verify:
                stage = "verify"
                verified = verify_snapshot(self.restic, snapshot_id, scratch_url=self.sources.database_url,
                                           step=step)
            forgotten = None
            if forget:
                stage = "forget"
                forgotten = self.forget(prune=True)
        except BackupError as exc:
            if self.session_factory is not None:
                fail_record(self.session_factory, backup_id, exc, stage=stage, repository=self.repository,
                            snapshot_id=snapshot_id)
            raise
        if self.session_factory is not None and backup_id is not None:
            digest = hashlib.sha256(outcome.manifest.to_json().encode()).hexdigest()
            finish_record(self.session_factory, backup_id, snapshot_id=snapshot_id,
                          size_bytes=outcome.size_bytes, manifest_sha256=digest,
                          verified=verified is not None)
        return RunResult(outcome, backup_id, verified, forgotten)

    def verify(self, snapshot_id: str = "latest", *, read_data_subset: str | None = None,
               step: Step | None = None) -> VerifyReport:
        try:
            return verify_snapshot(self.restic, snapshot_id, read_data_subset=read_data_subset,
                                   scratch_url=self.sources.database_url, step=step)
        except BackupError as exc:
            if self.session_factory is not None:
                fail_record(self.session_factory, None, exc, stage="verify", repository=self.repository,
                            snapshot_id=None if snapshot_id == "latest" else snapshot_id)
            raise

    def deep_check(self) -> str:
        """The weekly ``restic check --read-data-subset``; a failure is recorded as ``backup.failed``."""
        try:
            return self.restic.check(self.settings.read_data_subset)
        except BackupError as exc:
            if self.session_factory is not None:
                fail_record(self.session_factory, None, exc, stage="check", repository=self.repository)
            raise

    def forget(self, *, prune: bool = True, keep_daily: int | None = None, keep_weekly: int | None = None,
               keep_monthly: int | None = None) -> ForgetResult:
        s = self.settings
        if s.wal_archive:  # PostgreSQL point in time is set up: its base backups and WAL too
            from connectors.backup.pitr import forget_point_in_time

            forget_point_in_time(self.restic, s)
        return self.restic.forget(s.keep_daily if keep_daily is None else keep_daily,
                                  s.keep_weekly if keep_weekly is None else keep_weekly,
                                  s.keep_monthly if keep_monthly is None else keep_monthly,
                                  prune=prune, tags=["despacho"])

    def restore(self, snapshot_id: str, target_url: str | None = None, *, force: bool = False,
                step: Step | None = None) -> RestoreReport:
        """Restore into ``target_url`` (default: the configured database), safety backup first."""
        target = target_url or self.sources.database_url

        def safety_backup() -> str:
            sources = replace(self.sources, database_url=target)
            safety = BackupService(self.settings, sources, lambda: self.restic, None)
            return safety.run(tags=["safety"], verify=False).snapshot_id

        return restore_snapshot(self.restic, snapshot_id, target, force=force, safety_backup=safety_backup,
                                step=step)
