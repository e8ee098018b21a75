"""Putting a snapshot back: into the configured database or another one (``--target``).

In order: the snapshot's dumps are fetched and checked against the manifest (a damaged
one stops everything before the target is touched); a target holding data is refused
unless ``force``, and is backed up first (the *safety backup*); the dump is loaded; the
migrations run forward when the snapshot is older than this despacho; the rows per table
are read back.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from connectors.backup.backups import BASE_TAG, Step
from connectors.backup.dumps import PG_DUMP_FILE, SQLITE_FILE, backend_of, pg_table_counts, sqlite_path
from connectors.backup.errors import BackupError
from connectors.backup.restic import Restic
from connectors.backup.verify import fetched_dumps, load_manifest, pg_restore_into

SafetyBackup = Callable[[], str]  # backs the target up, returns the snapshot id


@dataclass(frozen=True)
class RestoreReport:
    snapshot_id: str
    target: str  # password masked
    engine: str
    snapshot_revision: str | None
    revision: str | None
    tables: dict[str, int]
    safety_snapshot: str | None
    notes: list[str] = field(default_factory=list)

    @property
    def migrated(self) -> bool:
        return self.revision != self.snapshot_revision


class TargetNotEmpty(BackupError):
    def __init__(self, target: str, rows: int) -> None:
        super().__init__(f"the target {target} holds data ({rows} rows): restoring replaces it; add --force "
                         "(a safety backup of it is taken first)", reason="refused")
        self.rows = rows


def target_rows(url: str) -> int:
    """Rows in the target's tables other than ``alembic_version`` (0: empty, or only migrated)."""
    import sqlalchemy as sa

    from store.db import make_engine

    if backend_of(url) == "sqlite":
        path = sqlite_path(url)
        if not path.exists():
            return 0
        lite = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
        try:
            names = [r[0] for r in lite.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
            return sum(int(lite.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0])
                       for n in names if n != "alembic_version")
        finally:
            lite.close()
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            counts = pg_table_counts(connection)
    except sa.exc.OperationalError as exc:
        if "does not exist" in str(exc):
            return 0
        raise
    finally:
        engine.dispose()
    return sum(count for name, count in counts.items() if name != "alembic_version")


def restore_snapshot(restic: Restic, snapshot_id: str, target_url: str, *, force: bool = False,
                     safety_backup: SafetyBackup | None = None, migrate_forward: bool = True,
                     step: Step | None = None) -> RestoreReport:
    from sqlalchemy.engine import make_url

    shown = make_url(target_url).render_as_string(hide_password=True)
    snapshot = restic.snapshot(snapshot_id, tags=[BASE_TAG])  # not a pg-base or pg-wal snapshot
    manifest = load_manifest(restic, snapshot)
    if manifest.incremental:
        raise BackupError(f"snapshot {snapshot.short_id} is incremental: it holds no dump (despacho backup "
                          "restore restores it from its base backup and the WAL)", reason="corrupted")
    target_engine = backend_of(target_url)
    if target_engine != manifest.engine:
        raise BackupError(f"snapshot {snapshot.short_id} holds a {manifest.engine} database; the target "
                          f"{shown} is {target_engine}", reason="refused")
    with fetched_dumps(restic, snapshot, manifest) as folder:  # damaged: raises before anything changes
        if step:
            step("fetch", 1.0)
        rows = target_rows(target_url)
        if rows and not force:
            raise TargetNotEmpty(shown, rows)
        safety = safety_backup() if rows and safety_backup is not None else None
        if step:
            step("safety backup", 1.0)
        if manifest.engine == "sqlite":
            _load_sqlite(folder / "database" / SQLITE_FILE, sqlite_path(target_url))
        else:
            _load_postgres(folder / "database" / PG_DUMP_FILE, target_url)
        if step:
            step("load", 1.0)
    notes: list[str] = []
    if manifest.engine == "postgresql":
        notes.append("roles and tablespaces (globals.sql) are not applied: restore them with "
                     "'restic dump' and psql when the server is new")
    from store import migrate

    revision = migrate.current_revision(target_url)
    if migrate_forward and revision != migrate.head_revision():
        migrate.upgrade(target_url)
        revision = migrate.current_revision(target_url)
    if step:
        step("migrate", 1.0)
    return RestoreReport(snapshot.id, shown, manifest.engine, manifest.revision, revision,
                         _counts(target_url), safety, notes)


def _load_sqlite(dump: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".restoring")
    shutil.copyfile(dump, partial)
    partial.chmod(0o600)
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(partial, target)


def _load_postgres(dump: Path, url: str) -> None:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from store.db import make_engine, normalize_url

    parsed = make_url(normalize_url(url))
    admin = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False),
                        poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                        {"n": parsed.database}).first()
            if not exists:
                connection.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        admin.dispose()
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            # the snapshot replaces everything: an older schema's extra tables must not survive
            connection.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(sa.text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
    pg_restore_into(dump, url)


def _counts(url: str) -> dict[str, int]:
    import sqlalchemy as sa

    from connectors.backup.dumps import sqlite_facts

    if backend_of(url) == "sqlite":
        return sqlite_facts(sqlite_path(url)).tables
    from store.db import make_engine

    engine = make_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return pg_table_counts(connection)
    finally:
        engine.dispose()


# the restore to a time (connectors/backup/pitr.py) loads its dump and reports the same way
load_postgres_dump = _load_postgres
table_counts = _counts
