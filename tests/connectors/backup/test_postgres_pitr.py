"""PostgreSQL's side of a point-in-time restore, on a private server that archives its WAL: a base
backup, more writes, and a temporary cluster recovered to a noted time holds exactly that time's rows."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from connectors.backup.postgres_pitr import (
    RecoveryFailed,
    archive_command,
    query_value,
    recovered_cluster,
    scratch_folder,
    server_tools,
    take_base_backup,
)
from tests.support.postgres import archiving_postgres, switch_and_wait_archived


def _dsn(port: int, database: str = "postgres") -> str:
    return f"host=127.0.0.1 port={port} user=postgres dbname={database}"


def _url(port: int, database: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/{database}"


def _insert(port: int, first: int, last: int) -> None:
    with psycopg.connect(_dsn(port, "despacho"), autocommit=True) as conn:
        conn.execute("INSERT INTO orders SELECT g, 'order ' || g FROM generate_series(%s::int, %s::int) g",
                     (first, last))


def _moment_between_commits() -> datetime:
    """A time strictly after the last commit and before the next (the clock is the same machine's)."""
    time.sleep(0.02)
    noted = datetime.now(UTC)
    time.sleep(0.02)
    return noted


def test_recovering_to_a_noted_time_gives_exactly_the_rows_committed_by_then() -> None:
    tools = server_tools("15")
    with archiving_postgres(archive_command) as (server, archive), scratch_folder() as scratch:
        with psycopg.connect(_dsn(server.port), autocommit=True) as conn:
            conn.execute("CREATE DATABASE despacho")
        with psycopg.connect(_dsn(server.port, "despacho"), autocommit=True) as conn:
            conn.execute("CREATE TABLE orders (id int PRIMARY KEY, title text)")
        _insert(server.port, 1, 10)
        base = take_base_backup(_url(server.port, "despacho"), scratch / "base", tools)
        assert base.major == "15" and base.start_lsn
        _insert(server.port, 11, 20)
        noted = _moment_between_commits()
        _insert(server.port, 21, 30)
        with psycopg.connect(_dsn(server.port, "despacho"), autocommit=True) as conn:
            conn.execute("DELETE FROM orders WHERE id <= 5")
        switch_and_wait_archived(_dsn(server.port))

        with recovered_cluster(scratch / "base", archive, noted, tools) as cluster:
            ids = query_value(cluster, "despacho", "SELECT string_agg(id::text, ',' ORDER BY id) FROM orders",
                             tools)
        assert ids == ",".join(str(i) for i in range(1, 21))
        # the temporary cluster archived nothing into the real archive (archive_mode = off)
        assert not [p for p in archive.iterdir() if p.name.endswith(".history")]


def test_a_time_after_the_archived_wal_is_refused_saying_what_to_do() -> None:
    tools = server_tools("15")
    with archiving_postgres(archive_command) as (server, archive), scratch_folder() as scratch:
        with psycopg.connect(_dsn(server.port), autocommit=True) as conn:
            conn.execute("CREATE DATABASE despacho")
        with psycopg.connect(_dsn(server.port, "despacho"), autocommit=True) as conn:
            conn.execute("CREATE TABLE orders (id int PRIMARY KEY, title text)")
        take_base_backup(_url(server.port, "despacho"), scratch / "base", tools)
        _insert(server.port, 1, 3)
        switch_and_wait_archived(_dsn(server.port))
        later = datetime.now(UTC).replace(year=datetime.now(UTC).year + 1)

        with pytest.raises(RecoveryFailed, match="archive ends before"), \
                recovered_cluster(scratch / "base", archive, later, tools):
            pass


def _archive(command: str, segment: Path) -> int:
    import subprocess

    shell = command.replace("%p", str(segment)).replace("%f", segment.name)
    return subprocess.run(["sh", "-c", shell], check=False).returncode


def test_archive_command_keeps_history_and_accepts_a_retried_segment(tmp_path: Path) -> None:
    archive = tmp_path / "my archive"  # the space is quoted
    archive.mkdir()
    command = archive_command(archive)
    segment = tmp_path / "000000010000000000000003"
    segment.write_bytes(b"wal" * 1000)
    assert _archive(command, segment) == 0
    assert (archive / segment.name).read_bytes() == segment.read_bytes()
    assert _archive(command, segment) == 0  # retried after a crash: same content, success
    segment.write_bytes(b"another cluster's segment")
    assert _archive(command, segment) != 0  # never overwritten
    assert (archive / segment.name).read_bytes() == b"wal" * 1000
    assert [p.name for p in archive.iterdir()] == [segment.name]  # no .part left
