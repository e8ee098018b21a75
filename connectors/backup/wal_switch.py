"""Ending an incremental backup on the server: a named restore point, the segment closed and archived.

The segment the server is writing is not in the archive yet. ``pg_create_restore_point`` marks
where the incremental backup ends (a recovery stops there by name), ``pg_switch_wal`` closes the
segment holding the mark, and the server's ``archive_command`` copies it into ``wal_archive``;
only once it is in that folder is the folder complete up to the mark and worth pushing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.backup.errors import BackupError
from connectors.backup.postgres_pitr import libpq_env

_POLL = 0.05


@dataclass(frozen=True)
class ClosedSegment:
    restore_point: str
    lsn: str  # where the restore point was written
    wal_file: str  # the segment holding it, now in the archive folder
    server_version: str
    revision: str | None  # alembic_version when the point was made


def close_segment(url: str, name: str, archive: Path, *, timeout: float) -> ClosedSegment:
    """Make restore point ``name`` on the server behind ``url``, close its segment and wait (at most
    ``timeout`` seconds) until that segment is in the ``archive`` folder."""
    import psycopg

    env = libpq_env(url)
    try:
        with psycopg.connect(host=env["PGHOST"], port=env["PGPORT"], user=env["PGUSER"],
                             dbname=env["PGDATABASE"], password=env.get("PGPASSWORD"), autocommit=True,
                             connect_timeout=10) as conn:
            if _one(conn, "SHOW archive_mode") == "off":
                raise BackupError("the server's archive_mode is off: an incremental backup is the archived "
                                  "WAL (see 'Point in time' in docs/connectors/backup.md), or run "
                                  "'despacho backup run --full'", reason="refused")
            version = _one(conn, "SHOW server_version")
            revision = _revision(conn)
            lsn = _one(conn, "SELECT pg_create_restore_point(%s)::text", (name,))
            segment = _one(conn, "SELECT pg_walfile_name(pg_switch_wal())")
            _wait_archived(conn, segment, Path(archive), timeout)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise BackupError(f"the database user {env['PGUSER']} may not end an incremental backup: "
                          "GRANT EXECUTE ON FUNCTION pg_create_restore_point(text), pg_switch_wal() TO "
                          f"{env['PGUSER']} (as a superuser)", reason="refused") from exc
    except psycopg.Error as exc:
        first = (str(exc).strip().splitlines() or ["(no message)"])[0]
        raise BackupError(f"closing the WAL segment on {env['PGHOST']}:{env['PGPORT']} failed: {first}",
                          reason="unavailable") from exc
    return ClosedSegment(name, lsn, segment, version, revision)


def _one(conn: Any, sql: str, params: tuple[object, ...] = ()) -> str:
    row = conn.execute(sql, params).fetchone()
    return "" if row is None or row[0] is None else str(row[0])


def _revision(conn: Any) -> str | None:
    import psycopg

    try:
        with conn.transaction():
            return _one(conn, "SELECT version_num FROM alembic_version") or None
    except psycopg.errors.UndefinedTable:
        return None


def _wait_archived(conn: Any, segment: str, archive: Path, timeout: float) -> None:
    """The file is what counts (the folder is what gets pushed); pg_stat_archiver explains a wait that
    ends without it."""
    deadline = time.monotonic() + timeout
    while not (archive / segment).is_file():
        if time.monotonic() > deadline:
            row = conn.execute("SELECT last_archived_wal, last_failed_wal, last_failed_time, failed_count "
                               "FROM pg_stat_archiver").fetchone()
            archived, failed, failed_at, failures = row if row is not None else (None, None, None, 0)
            why = (f"the last failure was {failed} at {failed_at} ({failures} failures): see the server's "
                   "log for archive_command's error" if failed else
                   f"no archiving failure is reported (last archived: {archived}): does archive_command "
                   f"copy into {archive}?")
            raise BackupError(f"WAL segment {segment} did not reach {archive} within {timeout:g} s; {why}",
                              reason="failed")
        time.sleep(_POLL)
