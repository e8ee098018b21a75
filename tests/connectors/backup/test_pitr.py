"""Point in time through the repository: base backups and WAL as tagged snapshots, which base a
restore starts from, and retention of both (the archive folder keeps only what a kept base needs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from connectors.backup.errors import BackupError
from connectors.backup.pitr import (
    PG_BASE_TAG,
    PG_WAL_TAG,
    backup_base,
    choose_base,
    forget_point_in_time,
    push_wal,
)
from connectors.backup.postgres_pitr import archive_command
from connectors.backup.restic import Restic
from connectors.backup.settings import BackupSettings
from tests.support.postgres import archiving_postgres, switch_and_wait_archived


def _write_and_archive(port: int, rows: int) -> None:
    dsn = f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS ticks (n int)")
        conn.execute("INSERT INTO ticks SELECT generate_series(1, %s::int)", (rows,))
    switch_and_wait_archived(dsn)


def test_retention_keeps_the_policys_base_backups_and_only_the_wal_they_need(
        restic: Restic, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    with archiving_postgres(archive_command) as (server, archive):
        url = f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/postgres"
        bases = []
        for days_ago in (3, 2, 1):
            _write_and_archive(server.port, 1000)
            bases.append(backup_base(restic, url, tmp_path / "staging", time=now - timedelta(days=days_ago)))
            push_wal(restic, archive, time=now - timedelta(days=days_ago))
        _write_and_archive(server.port, 1000)
        segments_before = sorted(p.name for p in archive.iterdir() if len(p.name) == 24)

        settings = BackupSettings(transport="restic", repository=restic.repository, keep_daily=2,
                                  keep_weekly=0, keep_monthly=0, wal_archive=str(archive))
        forgotten = forget_point_in_time(restic, settings)

        kept = restic.snapshots(tags=[PG_BASE_TAG])
        segments_after = sorted(p.name for p in archive.iterdir() if len(p.name) == 24)
    assert forgotten == (1, 2)
    assert [s.id[:8] for s in kept] == [b[:8] for b in bases[1:]]
    assert len(restic.snapshots(tags=[PG_WAL_TAG])) == 1
    assert segments_after and len(segments_after) < len(segments_before)
    assert segments_after == [s for s in segments_before if s >= segments_after[0]]  # only the oldest went


def test_the_base_a_restore_starts_from_is_the_newest_before_the_time(restic: Restic, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    with archiving_postgres(archive_command) as (server, _archive):
        url = f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/postgres"
        older = backup_base(restic, url, tmp_path / "staging", time=now - timedelta(days=2))
        newer = backup_base(restic, url, tmp_path / "staging", time=now - timedelta(days=1))
    assert choose_base(restic, now - timedelta(hours=36)).id.startswith(older)
    assert choose_base(restic, now).id.startswith(newer)
    with pytest.raises(BackupError, match="no PostgreSQL base backup was taken before"):
        choose_base(restic, now - timedelta(days=3))
    daily = restic.backup([tmp_path / "staging"], tags=["despacho"])
    with pytest.raises(BackupError, match="not a PostgreSQL base backup"):
        choose_base(restic, now, daily)
