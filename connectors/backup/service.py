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
from connectors.backup.incremental import Cadence, Requested
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
    cadence: Cadence | None = None

    @property
    def kind(self) -> str:
        return self.outcome.manifest.kind

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
            forget: bool = False, step: Step | None = None, kind: Requested = "auto") -> RunResult:
        """Back up — full or incremental (``connectors.backup.incremental``: ``kind`` auto follows
        ``full_every``) —; verify (default: ``settings.verify``); apply retention when ``forget``."""
        from datetime import UTC
        from pathlib import Path

        from connectors.backup.dumps import backend_of
        from connectors.backup.incremental import choose, close_and_push, store_incremental
        from connectors.backup.pitr import backup_base, push_wal

        backup_id = start_record(self.session_factory) if self.session_factory else None
        stage, snapshot_id = "backup", None
        s = self.settings
        try:
            cadence = choose(self.restic, s, kind, engine=backend_of(self.sources.database_url),
                             now=at or datetime.now(UTC))
            if cadence.kind == "incremental":
                assert cadence.base is not None
                stage = "wal"
                pushed = close_and_push(self.restic, self.sources, s, at=at, step=step)
                stage = "backup"
                outcome = store_incremental(self.restic, self.sources, s, cadence.base, pushed, tags=tags,
                                            at=at, step=step)
                snapshot_id = outcome.snapshot_id
            else:
                outcome = run_backup(self.restic, self.sources, Path(s.staging), tags=tags, at=at, step=step)
                snapshot_id = outcome.snapshot_id
                if cadence.kind == "full" and s.wal_archive and \
                        backend_of(self.sources.database_url) == "postgresql":
                    stage = "base"  # the chain the next incremental backups roll forward from
                    backup_base(self.restic, self.sources.database_url, Path(s.staging),
                                bin_dir=s.postgres_bin, time=at)
                if s.wal_archive:  # point in time (pitr.py): the WAL archive joins the repository
                    stage = "wal"
                    push_wal(self.restic, Path(s.wal_archive), time=at)
                    if step:
                        step("wal", 1.0)
            verified = None
            if s.verify if verify is None else verify:
                stage = "verify"
                verified = self.verify(snapshot_id, step=step, record=False)
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
        return RunResult(outcome, backup_id, verified, forgotten, cadence)

    def verify(self, snapshot_id: str = "latest", *, read_data_subset: str | None = None,
               step: Step | None = None, record: bool = True) -> VerifyReport:
        """``restic check``, then a test restore: a dump into a scratch database, or for an incremental
        snapshot its base and WAL recovered in a scratch cluster (``verify_incremental``)."""
        from connectors.backup.backups import BASE_TAG
        from connectors.backup.incremental import INCREMENTAL_TAG

        try:
            snapshot = self.restic.snapshot(snapshot_id, tags=[BASE_TAG])
            if INCREMENTAL_TAG not in snapshot.tags:
                return verify_snapshot(self.restic, snapshot.id, read_data_subset=read_data_subset,
                                       scratch_url=self.sources.database_url, step=step)
            from connectors.backup.verify import load_manifest
            from connectors.backup.verify_incremental import verify_incremental

            self.restic.check(read_data_subset)
            if step:
                step("check", 1.0)
            manifest = load_manifest(self.restic, snapshot)
            return verify_incremental(self.restic, snapshot, manifest, checked=True,
                                      bin_dir=self.settings.postgres_bin, run_as=self.settings.pitr_run_as,
                                      step=step)
        except BackupError as exc:
            if self.session_factory is not None and record:
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
        """Retention: the despacho snapshots by the policy, then the base backups (never one a kept
        incremental snapshot needs) and the WAL; then, with ``prune``, the space is freed."""
        from connectors.backup.backups import BASE_TAG
        from connectors.backup.incremental import base_of
        from connectors.backup.pitr import PG_BASE_TAG, forget_point_in_time

        s = self.settings
        result = self.restic.forget(s.keep_daily if keep_daily is None else keep_daily,
                                    s.keep_weekly if keep_weekly is None else keep_weekly,
                                    s.keep_monthly if keep_monthly is None else keep_monthly,
                                    prune=False, tags=[BASE_TAG])
        needed = {b for snap in self.restic.snapshots(tags=[BASE_TAG]) if (b := base_of(snap))}
        if s.wal_archive or needed or self.restic.snapshots(tags=[PG_BASE_TAG]):
            forget_point_in_time(self.restic, s, needed)
        if prune:
            self.restic.prune()
        return replace(result, pruned=prune)

    def restore(self, snapshot_id: str, target_url: str | None = None, *, force: bool = False,
                step: Step | None = None) -> RestoreReport:
        """Restore into ``target_url`` (default: the configured database), safety backup first. An
        incremental snapshot is its base backup rolled forward to its restore point."""
        from connectors.backup.backups import BASE_TAG
        from connectors.backup.incremental import INCREMENTAL_TAG

        target = target_url or self.sources.database_url
        chosen = self.restic.snapshot(snapshot_id, tags=[BASE_TAG])
        if INCREMENTAL_TAG in chosen.tags:
            from connectors.backup.pitr import restore_to_time
            from connectors.backup.postgres_pitr import RestorePoint
            from connectors.backup.verify import load_manifest

            manifest = load_manifest(self.restic, chosen)
            if not manifest.restore_point or not manifest.base_snapshot:
                raise BackupError(f"snapshot {chosen.short_id} is tagged incremental but its manifest names "
                                  "no base backup and restore point", reason="corrupted")
            return restore_to_time(self, RestorePoint(manifest.restore_point), target_url,
                                   base_snapshot=manifest.base_snapshot, force=force, step=step,
                                   shown_snapshot=chosen.id)

        def safety_backup() -> str:
            sources = replace(self.sources, database_url=target)
            safety = BackupService(self.settings, sources, lambda: self.restic, None)
            return safety.run(tags=["safety"], verify=False, kind="dump").snapshot_id

        return restore_snapshot(self.restic, chosen.id, target, force=force, safety_backup=safety_backup,
                                step=step)
