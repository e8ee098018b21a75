"""Is a snapshot restorable? ``restic check``, then a test restore into a scratch database.

The dumps are fetched from the repository (restic checks every blob's hash as it reads),
their sha256 compared with the manifest, then loaded into a scratch database — a temporary
SQLite file, or a throwaway PostgreSQL database created and dropped on the same server —
whose ``alembic current`` and row counts must equal the manifest's. Any difference is
``BackupCorrupted``: such a snapshot is reported, and ``restore`` refuses it.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from connectors.backup.backups import BASE_TAG, Step
from connectors.backup.dumps import (
    PG_DUMP_FILE,
    SQLITE_FILE,
    libpq_args,
    pg_revision,
    pg_table_counts,
    pg_tool,
    run_tool,
    sha256_of,
    sqlite_facts,
)
from connectors.backup.errors import BackupCorrupted, BackupError
from connectors.backup.manifest import MANIFEST_NAME, Manifest
from connectors.backup.restic import Restic, Snapshot


@dataclass(frozen=True)
class VerifyReport:
    snapshot_id: str
    engine: str
    revision: str | None
    tables: dict[str, int]
    checked_repository: bool

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def snapshot_root(snapshot: Snapshot) -> str:
    if len(snapshot.paths) != 1:
        raise BackupCorrupted(f"snapshot {snapshot.short_id} is not a despacho backup "
                              f"(paths {snapshot.paths})")
    return snapshot.paths[0]


def load_manifest(restic: Restic, snapshot: Snapshot) -> Manifest:
    import io

    buffer = io.BytesIO()
    try:
        restic.dump(snapshot.id, f"{snapshot_root(snapshot)}/{MANIFEST_NAME}", buffer)
    except BackupError as exc:
        if isinstance(exc, BackupCorrupted):
            raise
        raise BackupCorrupted(f"snapshot {snapshot.short_id} has no readable manifest.json: {exc}") from exc
    return Manifest.from_json(buffer.getvalue())


@contextmanager
def fetched_dumps(restic: Restic, snapshot: Snapshot, manifest: Manifest) -> Iterator[Path]:
    """The snapshot's dumps in a temporary folder, each checked against the manifest's sha256."""
    root = snapshot_root(snapshot)
    with tempfile.TemporaryDirectory(prefix="despacho-restore-") as scratch:
        folder = Path(scratch)
        for relative, entry in manifest.dumps.items():
            if relative.startswith("/") or ".." in Path(relative).parts:
                raise BackupCorrupted(f"the manifest names a dump outside the snapshot: {relative!r}")
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as out:
                restic.dump(snapshot.id, f"{root}/{relative}", out)
            size, digest = target.stat().st_size, sha256_of(target)
            if size != entry.size or digest != entry.sha256:
                raise BackupCorrupted(
                    f"snapshot {snapshot.short_id}: {relative} is damaged ({size} bytes, "
                    f"sha256 {digest[:12]}…; "
                    f"the manifest says {entry.size} bytes, {entry.sha256[:12]}…): it will not be restored")
        yield folder


def verify_snapshot(restic: Restic, snapshot_id: str, *, check: bool = True,
                    read_data_subset: str | None = None, scratch_url: str | None = None,
                    step: Step | None = None) -> VerifyReport:
    """``BackupCorrupted`` unless the snapshot restores into a scratch database matching its manifest.

    ``scratch_url``: a PostgreSQL URL whose server hosts the throwaway database (the configured
    database's, usually); SQLite snapshots need none.
    """
    if check:
        restic.check(read_data_subset)
    if step:
        step("check", 1.0)
    snapshot = restic.snapshot(snapshot_id, tags=[BASE_TAG])  # not a pg-base or pg-wal snapshot
    manifest = load_manifest(restic, snapshot)
    if manifest.incremental:  # its tags were changed: no dump here to restore
        raise BackupCorrupted(f"snapshot {snapshot.short_id}: the manifest says incremental but the "
                              "snapshot is not tagged so")
    with fetched_dumps(restic, snapshot, manifest) as folder:
        if step:
            step("fetch", 1.0)
        if manifest.engine == "sqlite":
            revision, tables = _sqlite_scratch(folder / "database" / SQLITE_FILE)
        elif manifest.engine == "postgresql":
            if scratch_url is None:
                raise BackupError("a PostgreSQL snapshot needs a PostgreSQL server for its test restore "
                                  "(database.url)")
            revision, tables = _postgres_scratch(folder / "database" / PG_DUMP_FILE, scratch_url)
        else:
            raise BackupCorrupted(f"snapshot {snapshot.short_id}: unknown database engine "
                                  f"{manifest.engine!r}")
    if step:
        step("restore", 1.0)
    compare(snapshot, manifest, revision, tables)
    return VerifyReport(snapshot.id, manifest.engine, revision, tables, checked_repository=check)


def compare(snapshot: Snapshot, manifest: Manifest, revision: str | None, tables: dict[str, int]) -> None:
    if revision != manifest.revision:
        raise BackupCorrupted(f"snapshot {snapshot.short_id}: the test restore is at revision {revision}, "
                              f"the manifest says {manifest.revision}")
    differences = [f"{name}: {tables.get(name)} restored, {count} expected"
                   for name, count in sorted(manifest.tables.items()) if tables.get(name) != count]
    differences += [f"{name}: not in the manifest" for name in sorted(set(tables) - set(manifest.tables))]
    if differences:
        raise BackupCorrupted(f"snapshot {snapshot.short_id}: the test restore differs from the manifest: "
                              + "; ".join(differences[:10]))


def _sqlite_scratch(path: Path) -> tuple[str | None, dict[str, int]]:
    from sqlalchemy.exc import SQLAlchemyError

    from store import migrate

    facts = sqlite_facts(path, check_integrity=True)
    try:
        revision = migrate.current_revision(f"sqlite:///{path}")  # alembic current, as an admin would
    except SQLAlchemyError as exc:
        raise BackupCorrupted(f"the restored SQLite copy cannot be opened: {exc}") from exc
    return revision, facts.tables


@contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on the server of ``server_url``; dropped afterwards."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from store.db import make_engine, normalize_url

    name = f"despacho_verify_{secrets.token_hex(6)}"
    admin_url = make_url(normalize_url(server_url)).set(database="postgres")
    admin = make_engine(admin_url.render_as_string(hide_password=False), poolclass=sa.pool.NullPool,
                        isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield admin_url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    except sa.exc.SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise BackupError(f"cannot create the scratch database for the test restore: {first}",
                          reason="unavailable") from exc
    finally:
        admin.dispose()


def pg_restore_into(dump: Path, url: str, *, clean: bool = False) -> None:
    conninfo, env = libpq_args(url)
    args = [pg_tool("pg_restore"), "--no-owner", "--exit-on-error", "--single-transaction", *conninfo]
    if clean:
        args[1:1] = ["--clean", "--if-exists"]
    try:
        run_tool([*args, str(dump)], env, "pg_restore")
    except BackupError as exc:
        raise BackupCorrupted(f"the dump does not restore: {exc}") from exc


def _postgres_scratch(dump: Path, server_url: str) -> tuple[str | None, dict[str, int]]:
    import sqlalchemy as sa

    from store.db import make_engine

    with scratch_database(server_url) as url:
        pg_restore_into(dump, url)
        engine = make_engine(url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as connection:
                tables = pg_table_counts(connection)
                return pg_revision(connection, tables), tables
        finally:
            engine.dispose()
