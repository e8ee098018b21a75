"""Point in time on PostgreSQL, through the restic repository.

Three pieces, each a tagged snapshot or built from them:

- ``pg-base``: a physical base backup (``pg_basebackup``), taken by ``despacho backup base``
  (daily or weekly: the older the base, the more WAL a restore replays);
- ``pg-wal``: the WAL archive folder (``connectors.backup.wal_archive``, filled by the server's
  ``archive_command``) pushed into the repository by every ``backup run`` and ``backup push-wal``,
  so a lost disk does not take the archive with it (restic stores each segment once);
- a restore to a time: the newest base backup taken before that time is restored into a scratch
  folder, a temporary cluster replays the WAL up to the time (``postgres_pitr``), and its
  database is dumped with ``pg_dump -Fc``. The caller loads that dump into ``--target`` the same
  way as a daily dump, so ``--target``, ``--force`` and the safety backup mean the same thing.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from connectors.backup.errors import BackupError
from connectors.backup.postgres_pitr import (
    RecoveredCluster,
    RecoveryFailed,
    RecoveryTarget,
    RestorePoint,
    ServerTools,
    clean_archive,
    describe,
    dump_database,
    libpq_env,
    query_value,
    recovered_cluster,
    scratch_folder,
    server_tools,
    take_base_backup,
)
from connectors.backup.restic import BackupProgress, BackupSummary, Restic, Snapshot

if TYPE_CHECKING:
    from connectors.backup.backups import Step
    from connectors.backup.restore import RestoreReport
    from connectors.backup.service import BackupService
    from connectors.backup.settings import BackupSettings

PG_BASE_TAG = "pg-base"
PG_WAL_TAG = "pg-wal"
BASE_INFO = "despacho-base.json"  # beside PG_VERSION in the base backup; PostgreSQL ignores it


@dataclass(frozen=True)
class PointInTimeDump:
    """What a restore to a time produced: a ``pg_dump -Fc`` file and where it came from."""

    dump: Path
    database: str
    target: RecoveryTarget
    base_snapshot: str
    base_time: datetime
    wal_source: str
    revision: str | None  # the alembic revision of the recovered database


def backup_base(restic: Restic, url: str, staging: Path, *, bin_dir: str | None = None,
                time: datetime | None = None,
                progress: Callable[[BackupProgress], None] | None = None) -> str:
    """Take a base backup of the cluster behind ``url`` and store it as a ``pg-base`` snapshot.

    The copy is written to ``staging/pg-base`` (always the same path, so restic treats each base
    backup as the next version of the last one) and removed once stored.
    """
    folder = Path(staging).resolve() / "pg-base"
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        base = take_base_backup(url, folder, server_tools(bin_dir=bin_dir))
        database = libpq_env(url)["PGDATABASE"]
        (folder / BASE_INFO).write_text(json.dumps({
            "kind": "postgresql-base-backup", "major": base.major, "start_lsn": base.start_lsn,
            "start_wal_file": base.start_wal_file, "start_time": base.start_time, "database": database},
            indent=2), encoding="utf-8")
        tags = [PG_BASE_TAG, f"pg-major={base.major}"]
        return restic.backup_creating([folder], tags=tags, time=time, progress=progress).snapshot_id
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def push_wal(restic: Restic, archive: Path, *, time: datetime | None = None) -> str | None:
    """Store the WAL archive folder as a ``pg-wal`` snapshot; None when there is nothing in it yet.

    Segments already stored are not read again (restic compares with the previous pg-wal snapshot),
    so a push costs what was archived since the last one. The repository must exist (backup run or
    backup base creates it): this runs often, and opening it first would cost one restic call more.
    """
    summary = push_wal_summary(restic, archive, time=time)
    return summary.snapshot_id if summary is not None else None


def push_wal_summary(restic: Restic, archive: Path, *, time: datetime | None = None) -> BackupSummary | None:
    """``push_wal`` with restic's summary (what an incremental backup added)."""
    archive = Path(archive).resolve()
    if not archive.is_dir() or not any(archive.iterdir()):
        return None
    return restic.backup_summary([archive], tags=[PG_WAL_TAG], time=time)


def forget_point_in_time(restic: Restic, settings: BackupSettings,
                         needed: Collection[str] = ()) -> tuple[int, int]:
    """Retention for the point-in-time pieces: base backups follow the daily policy (keep_daily,
    keep_weekly, keep_monthly) except those in ``needed`` (the bases of the incremental backups
    kept: without its base an incremental restores nothing); the WAL archive folder loses the
    segments older than the oldest base backup kept (nothing can roll forward from before it), and
    only the newest ``pg-wal`` snapshot stays (each holds the whole folder). Returns (base backups
    forgotten, WAL snapshots forgotten); the caller's prune frees the space."""
    if not restic.snapshots(tags=[PG_BASE_TAG]):
        return 0, 0
    plan = restic.forget(settings.keep_daily, settings.keep_weekly, settings.keep_monthly, prune=False,
                         tags=[PG_BASE_TAG], dry_run=True)
    dropped = [i for i in plan.removed if not any(i.startswith(n) or n.startswith(i) for n in needed)]
    restic.forget_ids(dropped)
    kept = restic.snapshots(tags=[PG_BASE_TAG])
    if kept and settings.wal_archive and Path(settings.wal_archive).is_dir():
        oldest = kept[0]
        buffer = io.BytesIO()
        restic.dump(oldest.id, f"{oldest.paths[0]}/{BASE_INFO}", buffer)
        first_needed = str(json.loads(buffer.getvalue() or b"{}").get("start_wal_file") or "")
        if first_needed:
            tools = server_tools(bin_dir=settings.postgres_bin)
            clean_archive(Path(settings.wal_archive), first_needed, tools)
    if not restic.snapshots(tags=[PG_WAL_TAG]):
        return len(dropped), 0
    wal = restic.forget(1, 0, 0, prune=False, tags=[PG_WAL_TAG])
    return len(dropped), len(wal.removed)


def choose_base(restic: Restic, target_time: datetime, snapshot_id: str | None = None) -> Snapshot:
    """The base backup to roll forward: ``snapshot_id`` when given (it must be a ``pg-base``
    snapshot), else the newest one taken before ``target_time``."""
    if snapshot_id is not None and snapshot_id != "latest":
        chosen = restic.snapshot(snapshot_id)
        if PG_BASE_TAG not in chosen.tags:
            raise BackupError(f"snapshot {chosen.short_id} is not a PostgreSQL base backup "
                              f"(tag {PG_BASE_TAG}); a restore to a time starts from one: "
                              "despacho backup list --tag pg-base",
                              reason="not_found")
        return chosen
    earlier = [s for s in restic.snapshots(tags=[PG_BASE_TAG]) if s.time <= target_time]
    if not earlier:
        raise BackupError(f"no PostgreSQL base backup was taken before {target_time.isoformat()}: a "
                          "point-in-time restore starts from one (despacho backup base)", reason="not_found")
    return earlier[-1]


def dump_at_time(restic: Restic, target: RecoveryTarget, *, database: str, out: Path,
                 wal_archive: str | Path | None = None, base_snapshot: str | None = None,
                 bin_dir: str | None = None, run_as: str = "postgres", user: str = "postgres",
                 scratch_parent: Path | None = None) -> PointInTimeDump:
    """Recover ``database`` as it was at ``target`` (a time, or an incremental backup's restore point
    from its ``base_snapshot``) and write it to ``out`` (``pg_dump -Fc``).

    The WAL comes from the local archive folder when it exists (the newest segments are there),
    else from the newest ``pg-wal`` snapshot.
    """
    if isinstance(target, RestorePoint):
        if base_snapshot is None:
            raise BackupError(f"a restore to {target} needs its base backup")
        base = choose_base(restic, datetime.now(UTC), base_snapshot)
    elif target.tzinfo is None:
        raise BackupError("--to-time needs a time zone or is read in the configured one; got a naive time")
    else:
        base = choose_base(restic, target, base_snapshot)
    if not base.paths:
        raise BackupError(f"snapshot {base.short_id} lists no path")
    with scratch_folder(scratch_parent, run_as) as scratch:
        restic.restore(base.id, scratch / "restored")
        data = scratch / "data"
        shutil.move(str(scratch / "restored" / base.paths[0].lstrip("/")), data)
        wal, wal_source = _wal_folder(restic, wal_archive, scratch)
        major = (data / "PG_VERSION").read_text().strip() if (data / "PG_VERSION").is_file() else None
        tools: ServerTools = server_tools(major, bin_dir=bin_dir, run_as=run_as)
        with recovered_cluster(data, wal, target, tools, user=user) as cluster:
            revision = _revision(cluster, database, tools)
            dump_database(cluster, database, Path(out), tools)
    return PointInTimeDump(Path(out), database, target, base.id, base.time, wal_source, revision)


def _revision(cluster: RecoveredCluster, database: str, tools: ServerTools) -> str | None:
    try:
        return query_value(cluster, database, "SELECT version_num FROM alembic_version", tools) or None
    except RecoveryFailed:
        return None  # not migrated by despacho (or no such table): reported as unknown


def restore_to_time(service: BackupService, target_time: RecoveryTarget, target_url: str | None = None, *,
                    base_snapshot: str | None = None, force: bool = False, step: Step | None = None,
                    shown_snapshot: str | None = None) -> RestoreReport:
    """The configured PostgreSQL database as it was at ``target_time`` (or at an incremental backup's
    restore point, ``shown_snapshot`` being that backup), loaded into ``target_url``
    (default: the configured database) the way ``restore_snapshot`` loads a daily dump: a target with
    data is refused without ``force`` (checked before the long recovery) and backed up first; the
    migrations run forward; the rows per table are read back."""
    import tempfile
    from dataclasses import replace

    from sqlalchemy.engine import make_url

    from connectors.backup.dumps import backend_of
    from connectors.backup.restore import (
        RestoreReport,
        TargetNotEmpty,
        load_postgres_dump,
        table_counts,
        target_rows,
    )
    from connectors.backup.service import BackupService
    from store import migrate

    source = service.sources.database_url
    target = target_url or source
    if backend_of(source) != "postgresql" or backend_of(target) != "postgresql":
        raise BackupError("--to-time needs PostgreSQL (the WAL archive); on SQLite restore the newest "
                          "snapshot before that time and replay the events table (docs/connectors/backup.md)",
                          reason="refused")
    shown = make_url(target).render_as_string(hide_password=True)
    rows = target_rows(target)
    if rows and not force:
        raise TargetNotEmpty(shown, rows)
    settings = service.settings
    source_env = libpq_env(source)
    with tempfile.TemporaryDirectory(prefix="despacho-pitr-dump-") as folder:
        point = dump_at_time(service.restic, target_time, database=source_env["PGDATABASE"],
                             out=Path(folder) / "database.dump", wal_archive=settings.wal_archive,
                             base_snapshot=base_snapshot, bin_dir=settings.postgres_bin,
                             run_as=settings.pitr_run_as, user=source_env["PGUSER"])
        if step:
            step("recover", 1.0)
        safety = None
        if rows:
            sources = replace(service.sources, database_url=target)
            safety = BackupService(settings, sources, lambda: service.restic, None).run(
                tags=["safety"], verify=False, kind="dump").snapshot_id
        if step:
            step("safety backup", 1.0)
        load_postgres_dump(point.dump, target)
        if step:
            step("load", 1.0)
    revision = migrate.current_revision(target)
    if revision != migrate.head_revision():
        migrate.upgrade(target)
        revision = migrate.current_revision(target)
    if step:
        step("migrate", 1.0)
    notes = [f"recovered to {describe(target_time)} from base backup {point.base_snapshot[:8]} "
             f"({point.base_time.isoformat(timespec='seconds')}) and the WAL in {point.wal_source}",
             "roles and tablespaces are not restored by a restore to a time (the target keeps its own)"]
    return RestoreReport(shown_snapshot or point.base_snapshot, shown, "postgresql", point.revision, revision,
                         table_counts(target), safety, notes)


def _wal_folder(restic: Restic, wal_archive: str | Path | None, scratch: Path) -> tuple[Path, str]:
    if wal_archive is not None and Path(wal_archive).is_dir():
        return Path(wal_archive).resolve(), f"folder {wal_archive}"
    stored = restic.snapshots(tags=[PG_WAL_TAG])
    if not stored:
        raise BackupError("no WAL to replay: the wal_archive folder is missing and the repository holds "
                          "no pg-wal snapshot (see 'Point in time' in docs/connectors/backup.md)")
    latest = stored[-1]
    restic.restore(latest.id, scratch / "wal-restored")
    return scratch / "wal-restored" / latest.paths[0].lstrip("/"), f"snapshot {latest.short_id}"
