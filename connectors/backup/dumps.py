"""Consistent copies of the database, with the facts the manifest records about them.

SQLite: the online backup API (``sqlite3.Connection.backup``) copies the file as
one read transaction: in WAL mode the daemon keeps writing meanwhile, and the
copy holds exactly what was committed when it started. The row counts and the
migration revision are then read from the copy itself.

PostgreSQL: ``pg_dump -Fc`` run inside a snapshot that despacho exported
(``pg_export_snapshot`` in a REPEATABLE READ transaction), so the row counts
read in that transaction are the dump's to the row, plus ``pg_dumpall
--globals-only`` (roles, tablespaces). The dump is not compressed (``-Z0``):
restic compresses, and two uncompressed dumps share most of their chunks, which
is what makes the next snapshot small. Passwords reach the PostgreSQL tools
through ``PGPASSWORD`` in their environment, never their command line.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.backup.errors import BackupError

SQLITE_FILE = "despacho.sqlite3"
PG_DUMP_FILE = "despacho.pgdump"
PG_GLOBALS_FILE = "globals.sql"
PG_BIN_DIRS = ("/usr/lib/postgresql/{}/bin",)

Progress = Callable[[str, float], None]  # (what, fraction done)


@dataclass
class DatabaseDump:
    """What a dump wrote under its folder, and what the database held at that moment."""

    engine: str  # sqlite | postgresql
    engine_version: str
    revision: str | None
    tables: dict[str, int]
    files: list[Path]
    notes: list[str] = field(default_factory=list)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def backend_of(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).get_backend_name()


def dump_database(url: str, folder: Path, progress: Progress | None = None) -> DatabaseDump:
    folder.mkdir(parents=True, exist_ok=True)
    backend = backend_of(url)
    if backend == "sqlite":
        return dump_sqlite(sqlite_path(url), folder, progress)
    if backend == "postgresql":
        return dump_postgres(url, folder, progress)
    raise BackupError(f"cannot back up a {backend} database: despacho backs up SQLite and PostgreSQL")


# --- SQLite ---------------------------------------------------------------------------------------

def sqlite_path(url: str) -> Path:
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if database and database.startswith("file:"):  # the URI form store.db opens files with
        from urllib.parse import unquote

        database = unquote(database.removeprefix("file:"))
    if not database or database == ":memory:" or "mode=memory" in url:
        raise BackupError(f"cannot back up the SQLite database '{database}': give a file path in "
                          "database.url")
    return Path(database)


def dump_sqlite(source: Path, folder: Path, progress: Progress | None = None) -> DatabaseDump:
    if not source.is_file():
        raise BackupError(f"the SQLite database {source} does not exist")
    target = folder / SQLITE_FILE
    target.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source.resolve()}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            # one step (pages=-1): a single read transaction, so writers in other connections never
            # make it start over, and the copy is the database as of that transaction's start
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        finally:
            dst.close()
    finally:
        src.close()
    if progress:
        progress("database", 1.0)
    facts = sqlite_facts(target)
    return DatabaseDump("sqlite", sqlite3.sqlite_version, facts.revision, facts.tables, [target])


@dataclass(frozen=True)
class Facts:
    revision: str | None
    tables: dict[str, int]


def sqlite_facts(path: Path, *, check_integrity: bool = False) -> Facts:
    """Row counts per table and the alembic revision of a SQLite file (opened read-only)."""
    connection = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
    try:
        if check_integrity:
            result = connection.execute("PRAGMA integrity_check").fetchone()
            if not result or result[0] != "ok":
                raise BackupError(f"the SQLite copy fails its integrity check: {result}", reason="corrupted")
        names = [row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        tables = {name: int(connection.execute(f'SELECT count(*) FROM "{_ident(name)}"').fetchone()[0])
                  for name in names}
        revision = None
        if "alembic_version" in tables:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = row[0] if row else None
        return Facts(revision, tables)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"cannot read the SQLite copy {path.name}: {exc}", reason="corrupted") from exc
    finally:
        connection.close()


def _ident(name: str) -> str:
    return name.replace('"', '""')


# --- PostgreSQL -----------------------------------------------------------------------------------

def pg_tool(name: str) -> str:
    """The newest installed PostgreSQL client program ``name`` (pg_dump must not be older than the server)."""
    candidates = sorted((p for p in Path("/usr/lib/postgresql").glob(f"*/bin/{name}") if p.is_file()),
                        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if candidates:
        return str(candidates[-1])
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed: install the PostgreSQL client (postgresql-client)",
                          reason="unavailable")
    return found


def libpq_args(url: str) -> tuple[list[str], dict[str, str]]:
    """``--dbname`` conninfo without the password, and the environment carrying it (``PGPASSWORD``)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    parts = {"host": parsed.host, "port": str(parsed.port) if parsed.port else None,
             "user": parsed.username, "dbname": parsed.database}
    for key, value in parsed.query.items():
        if key in ("sslmode", "sslrootcert", "sslcert", "sslkey", "application_name", "connect_timeout"):
            parts[key] = value if isinstance(value, str) else value[0]
    conninfo = " ".join(f"{k}='{_libpq_quote(v)}'" for k, v in parts.items() if v)
    env = {"PGPASSWORD": parsed.password} if parsed.password else {}
    return [f"--dbname={conninfo}"], env


def _libpq_quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def run_tool(args: list[str], env: Mapping[str, str], what: str, *, stdout: Any = None) -> str:
    full_env = {**os.environ, **env}
    result = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=stdout or subprocess.PIPE,
                            stderr=subprocess.PIPE, env=full_env, check=False)
    stderr = result.stderr.decode("utf-8", "replace").strip()
    if result.returncode != 0:
        password = env.get("PGPASSWORD")
        if password:
            stderr = stderr.replace(password, "***")
        last = stderr.splitlines()[-1] if stderr else f"exit {result.returncode}"
        raise BackupError(f"{what} failed: {last}")
    return stderr


def pg_table_counts(connection: Any) -> dict[str, int]:
    import sqlalchemy as sa

    names = [row[0] for row in connection.execute(sa.text(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"))]
    return {name: int(connection.execute(sa.text(f'SELECT count(*) FROM "{_ident(name)}"')).scalar_one())
            for name in names}


def pg_revision(connection: Any, tables: Mapping[str, int]) -> str | None:
    import sqlalchemy as sa

    if "alembic_version" not in tables:
        return None
    value = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    return str(value) if value is not None else None


def dump_postgres(url: str, folder: Path, progress: Progress | None = None) -> DatabaseDump:
    import sqlalchemy as sa

    from store.db import make_engine

    engine = make_engine(url, pre_ping=False, poolclass=sa.pool.NullPool)
    dump_file, globals_file = folder / PG_DUMP_FILE, folder / PG_GLOBALS_FILE
    conninfo, env = libpq_args(url)
    notes: list[str] = []
    # the globals (roles, tablespaces) are dumped beside the database dump, not after it: a second
    # connection and a small file, which would otherwise add their start-up to every backup
    globals_done = _in_thread(lambda: dump_globals(globals_file, conninfo, env, notes))
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                snapshot = connection.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one()
                # while this transaction stays open, pg_dump sees exactly what we count, so both run at
                # once: the counts read every row too, and need not wait for the dump or hold it up
                dumped = _in_thread(lambda: run_tool(
                    [pg_tool("pg_dump"), "-Fc", "-Z0", f"--snapshot={snapshot}", "--no-owner",
                     f"--file={dump_file}", *conninfo], env, "pg_dump"))
                try:
                    version = str(connection.execute(sa.text("SHOW server_version")).scalar_one())
                    tables = pg_table_counts(connection)
                    revision = pg_revision(connection, tables)
                    if progress:
                        progress("database", 0.05)
                finally:
                    dumped()
        if progress:
            progress("database", 0.9)
        globals_done()
    except sa.exc.SQLAlchemyError as exc:
        raise BackupError(f"cannot read the database to back it up: {exc.__class__.__name__}: "
                          f"{str(getattr(exc, 'orig', exc)).strip().splitlines()[0]}",
                          reason="unavailable") from exc
    finally:
        engine.dispose()
        globals_done(raise_error=False)  # a failed dump must not leave the thread behind
    if progress:
        progress("database", 1.0)
    return DatabaseDump("postgresql", version, revision, tables, [dump_file, globals_file], notes)


def dump_globals(globals_file: Path, conninfo: list[str], env: Mapping[str, str], notes: list[str]) -> None:
    try:
        run_tool([pg_tool("pg_dumpall"), "--globals-only", f"--file={globals_file}", *conninfo],
                 env, "pg_dumpall --globals-only")
    except BackupError:
        # not a superuser: roles without their password hashes (pg_roles instead of pg_authid)
        run_tool([pg_tool("pg_dumpall"), "--globals-only", "--no-role-passwords",
                  f"--file={globals_file}", *conninfo], env, "pg_dumpall --globals-only")
        notes.append("globals dumped without role passwords (the user is not a superuser)")


def _in_thread(work: Callable[[], object]) -> Callable[..., None]:
    """Start ``work`` in a thread; the returned call waits for it and raises what it raised."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # handed to the waiting caller, who raises it
            failure.append(exc)

    thread = threading.Thread(target=run, name="despacho-dump", daemon=True)
    thread.start()

    def wait(raise_error: bool = True) -> None:
        thread.join()
        if failure and raise_error:
            raise failure[0]
    return wait
