"""Hostile input to a point-in-time restore: folder names and times that try to become commands.

The WAL folder's path lands in two shell commands PostgreSQL runs (``archive_command``,
``restore_command``) and in a postgresql.conf string; the time lands in that file too.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from connectors.backup.errors import BackupError
from connectors.backup.postgres_pitr import (
    archive_command,
    query_value,
    recovered_cluster,
    scratch_folder,
    server_tools,
    take_base_backup,
)
from tests.support.postgres import archiving_postgres, switch_and_wait_archived

CANARY = Path("/tmp/despacho-pitr-canary")
HOSTILE = f"wal'; touch {CANARY}; echo '$(touch {CANARY})`touch {CANARY}`"


def test_a_wal_folder_named_like_a_command_is_only_a_folder(tmp_path: Path) -> None:
    CANARY.unlink(missing_ok=True)
    tools = server_tools("15")
    with archiving_postgres(archive_command) as (server, archive), scratch_folder() as scratch:
        dsn = f"host=127.0.0.1 port={server.port} user=postgres dbname=postgres"
        take_base_backup(f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/postgres", scratch / "base",
                         tools)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE marks (n int)")
            conn.execute("INSERT INTO marks VALUES (1), (2)")
        switch_and_wait_archived(dsn)
        noted = datetime.now(UTC)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("INSERT INTO marks VALUES (3)")
        switch_and_wait_archived(dsn)
        hostile = scratch / HOSTILE  # the archive, copied under a name full of shell
        shutil.copytree(archive, hostile)
        if os.geteuid() == 0:
            shutil.chown(hostile, "postgres", "postgres")

        with recovered_cluster(scratch / "base", hostile, noted, tools) as cluster:
            assert query_value(cluster, "postgres", "SELECT count(*) FROM marks", tools) == "2"
    assert not CANARY.exists()


@pytest.mark.parametrize("folder", [f"/srv/wal'; touch {CANARY}; '", "/srv/wal $(id)", "/srv/wal`id`"])
def test_archive_command_quotes_the_folder(folder: str, tmp_path: Path) -> None:
    import shlex

    command = archive_command(Path(folder))
    assert shlex.quote(folder) in command
    assert command.count(shlex.quote(folder)) == 6


def test_a_naive_time_is_refused_rather_than_guessed(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    with pytest.raises(BackupError, match="time zone"), \
            recovered_cluster(base, tmp_path, datetime(2026, 12, 5, 10, 0), server_tools("15")):
        pass
