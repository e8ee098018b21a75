"""Is an incremental snapshot restorable? Its base and the WAL *as the repository holds them* are
recovered in a scratch cluster up to its restore point, and the recovered database is read back.

The local archive folder is never used here: it would hide a segment the repository lost. A
recovery that stops before the restore point (a segment missing or damaged) is ``BackupCorrupted``.
The manifest of an incremental holds no row counts (reading every table would cost what the
incremental saves), so the revision is compared and the rows are reported.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from connectors.backup.backups import Step
from connectors.backup.errors import BackupCorrupted, BackupError
from connectors.backup.manifest import Manifest
from connectors.backup.pitr import PG_BASE_TAG, PG_WAL_TAG
from connectors.backup.postgres_pitr import (
    RecoveredCluster,
    RecoveryFailed,
    RestorePoint,
    recovered_cluster,
    scratch_folder,
    server_tools,
)
from connectors.backup.restic import Restic, Snapshot
from connectors.backup.verify import VerifyReport


def verify_incremental(restic: Restic, snapshot: Snapshot, manifest: Manifest, *, checked: bool,
                       bin_dir: str | None = None, run_as: str = "postgres",
                       step: Step | None = None) -> VerifyReport:
    from sqlalchemy.engine import make_url

    if not manifest.incremental or not manifest.restore_point or not manifest.base_snapshot:
        raise BackupCorrupted(f"snapshot {snapshot.short_id} is tagged incremental but its manifest names "
                              "no base backup and restore point")
    try:
        base = restic.snapshot(manifest.base_snapshot, tags=[PG_BASE_TAG])
    except BackupError as exc:
        raise BackupCorrupted(f"snapshot {snapshot.short_id}: its base backup {manifest.base_snapshot[:8]} "
                              f"is not in the repository ({exc})") from exc
    wal = restic.snapshots(tags=[PG_WAL_TAG])
    if not wal or not base.paths:
        raise BackupCorrupted(f"snapshot {snapshot.short_id}: the repository holds no WAL to roll base "
                              f"{base.short_id} forward")
    url = make_url(manifest.database)
    database, user = url.database or "postgres", url.username or "postgres"
    point = RestorePoint(manifest.restore_point)
    with scratch_folder(None, run_as) as scratch:
        restic.restore(base.id, scratch / "restored")
        data = scratch / "data"
        shutil.move(str(scratch / "restored" / base.paths[0].lstrip("/")), data)
        restic.restore(wal[-1].id, scratch / "wal-restored")
        folder = scratch / "wal-restored" / wal[-1].paths[0].lstrip("/")
        if step:
            step("fetch", 1.0)
        major = (data / "PG_VERSION").read_text().strip() if (data / "PG_VERSION").is_file() else None
        tools = server_tools(major, bin_dir=bin_dir, run_as=run_as)
        try:
            with recovered_cluster(data, folder, point, tools, user=user) as cluster:
                revision, tables = _read_back(cluster, database)
        except RecoveryFailed as exc:
            raise BackupCorrupted(f"snapshot {snapshot.short_id}: the test recovery of base backup "
                                  f"{base.short_id} and WAL snapshot {wal[-1].short_id} to {point} failed: "
                                  f"{exc}") from exc
    if step:
        step("restore", 1.0)
    if revision != manifest.revision:
        raise BackupCorrupted(f"snapshot {snapshot.short_id}: the test recovery is at revision {revision}, "
                              f"the manifest says {manifest.revision}")
    return VerifyReport(snapshot.id, "postgresql", revision, tables, checked_repository=checked)


def _read_back(cluster: RecoveredCluster, database: str) -> tuple[str | None, dict[str, int]]:
    """Revision and rows per table, counted the way a full backup's test restore counts them."""
    import sqlalchemy as sa
    from sqlalchemy.engine import URL

    from connectors.backup.dumps import pg_revision, pg_table_counts
    from store.db import make_engine

    url = URL.create("postgresql+psycopg", username=cluster.user, database=database,
                     query={"host": str(Path(cluster.socket_dir)), "port": str(cluster.port)})
    engine = make_engine(url.render_as_string(hide_password=False), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            tables = pg_table_counts(connection)
            return pg_revision(connection, tables), tables
    except sa.exc.SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise RecoveryFailed(f"the recovered database '{database}' cannot be read: {first}") from exc
    finally:
        engine.dispose()
