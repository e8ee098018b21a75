"""Full and incremental backups on a private PostgreSQL 15 archiving its WAL (real restic, the demo
company's rows, events recorded as the engine records them): the cadence, the verify of an
incremental (and its failure when the repository lost a WAL segment), its restore."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import psycopg
import pytest
from sqlmodel import Session

from connectors.backup.backups import BackupSources
from connectors.backup.errors import BackupCorrupted, BackupError
from connectors.backup.incremental import INCREMENTAL_TAG, base_of
from connectors.backup.pitr import PG_BASE_TAG, push_wal
from connectors.backup.postgres_pitr import archive_command
from connectors.backup.restic import Restic
from connectors.backup.service import BackupService
from connectors.backup.settings import BackupSettings
from store.db import make_engine, session_scope
from store.eventlog import record_event
from store.migrate import upgrade
from store.seed import seed_demo
from tests.connectors.backup.support import count
from tests.support.postgres import archiving_postgres, switch_and_wait_archived, throwaway_pg_database


@dataclass
class Cluster:
    url: str
    dsn: str
    admin: str
    archive: Path
    service: BackupService


@pytest.fixture
def cluster(restic: Restic, tmp_path: Path) -> Iterator[Cluster]:
    """The demo company on a private server archiving its WAL, and a service backing it up."""
    with archiving_postgres(archive_command) as (server, archive):
        admin = f"host=127.0.0.1 port={server.port} user=postgres dbname=postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE despacho")
        url = f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/despacho"
        upgrade(url)
        engine = make_engine(url)
        with Session(engine) as session:
            seed_demo(session, at=datetime(2026, 12, 1, 12, 0, tzinfo=UTC), customers=20, technicians=3,
                      orders=60)
            session.commit()
        settings = BackupSettings(transport="restic", repository=restic.repository,
                                  staging=str(tmp_path / "staging"), wal_archive=str(archive), verify=False)
        service = BackupService(settings, BackupSources(url), lambda: restic, partial(session_scope, engine))
        try:
            yield Cluster(url, f"host=127.0.0.1 port={server.port} user=postgres dbname=despacho", admin,
                          archive, service)
        finally:
            engine.dispose()


def _events(url: str, first: int, last: int) -> None:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            for n in range(first, last + 1):
                record_event(session, "ops.tick", {"n": n}, occurred_at=datetime.now(UTC))
    finally:
        engine.dispose()


def test_backup_run_is_full_first_incremental_within_full_every_and_full_again_after_it(
        cluster: Cluster, restic: Restic) -> None:
    now = datetime.now(UTC)
    first = cluster.service.run(at=now - timedelta(days=8))
    assert first.kind == "full" and first.outcome.manifest.tables["customers"] == 20
    assert len(restic.snapshots(tags=[PG_BASE_TAG])) == 1  # the chain's start came with it

    # the only full one is 8 days old (full_every 7d): full again, whatever the base
    second = cluster.service.run(at=now - timedelta(days=1))
    assert second.kind == "full"
    bases = restic.snapshots(tags=[PG_BASE_TAG])
    assert len(bases) == 2

    _events(cluster.url, 1, 30)
    third = cluster.service.run(at=now)
    manifest = third.outcome.manifest
    assert third.kind == "incremental"
    assert manifest.dumps == {} and manifest.tables == {}  # no dump, no row counts: cheap
    assert manifest.base_snapshot == bases[-1].id and manifest.restore_point and manifest.wal_file
    assert manifest.revision == first.outcome.manifest.revision and manifest.files == []
    snapshot = restic.snapshot(third.snapshot_id)
    assert INCREMENTAL_TAG in snapshot.tags and base_of(snapshot) == bases[-1].id
    assert (cluster.archive / manifest.wal_file).is_file()

    forced = cluster.service.run(kind="full")
    assert forced.kind == "full" and len(restic.snapshots(tags=[PG_BASE_TAG])) == 3


def test_an_incremental_verifies_and_restores_to_the_rows_of_its_restore_point(cluster: Cluster) -> None:
    cluster.service.run()
    _events(cluster.url, 1, 40)
    incremental = cluster.service.run(verify=True)
    assert incremental.kind == "incremental" and incremental.verified is not None
    assert incremental.verified.revision == incremental.outcome.manifest.revision
    at_point = count(cluster.url, "events")
    assert incremental.verified.tables["events"] == at_point
    assert incremental.verified.tables["customers"] == 20

    _events(cluster.url, 41, 60)  # after the restore point: not in the restore
    with throwaway_pg_database() as target:
        report = cluster.service.restore(incremental.snapshot_id, target)
        assert report.snapshot_id.startswith(incremental.snapshot_id)
        assert count(target, "events") == at_point and count(target, "customers") == 20
        assert any("restore point" in note for note in report.notes)
    assert count(cluster.url, "events") == at_point + 20


def test_verify_fails_when_the_repository_lost_a_wal_segment_the_incremental_needs(
        cluster: Cluster, restic: Restic) -> None:
    cluster.service.run()
    before = {p.name for p in cluster.archive.iterdir()}
    _events(cluster.url, 1, 20)
    switch_and_wait_archived(cluster.admin)  # a segment between the base backup and the restore point
    _events(cluster.url, 21, 40)
    incremental = cluster.service.run()
    new = sorted(p.name for p in cluster.archive.iterdir() if p.name not in before and len(p.name) == 24)
    assert len(new) >= 2
    assert cluster.service.verify(incremental.snapshot_id).revision == incremental.outcome.manifest.revision

    # the repository's copy of the archive loses one segment (the local folder keeps it: verify must
    # read what the repository holds)
    lost = new[-2]
    aside = cluster.archive.parent / lost
    shutil.move(cluster.archive / lost, aside)
    push_wal(restic, cluster.archive)
    shutil.move(aside, cluster.archive / lost)

    with pytest.raises(BackupCorrupted, match="the WAL ends before restore point"):
        cluster.service.verify(incremental.snapshot_id)


def test_incremental_without_a_base_backup_or_wal_archive_is_refused_clearly(
        make_service: object, pg_url: str, sqlite_url: str, tmp_path: Path, restic: Restic) -> None:
    settings = BackupSettings(transport="restic", repository=restic.repository,
                              staging=str(tmp_path / "staging"), wal_archive=str(tmp_path / "wal"))
    with_archive = BackupService(settings, BackupSources(pg_url), lambda: restic)
    with pytest.raises(BackupError, match=r"needs a base backup in the repository.*backup run --full"):
        with_archive.run(kind="incremental")
    without = BackupService(settings.model_copy(update={"wal_archive": None}), BackupSources(pg_url),
                            lambda: restic)
    with pytest.raises(BackupError, match=r"needs PostgreSQL with connectors\.backup\.wal_archive"):
        without.run(kind="incremental")
    # SQLite: always full, as before (the wal_archive setting does not make it incremental)
    on_sqlite = BackupService(settings, BackupSources(sqlite_url), lambda: restic)
    assert on_sqlite.run(verify=False).kind == "full"
    assert on_sqlite.run(verify=False).kind == "full"
    assert not restic.snapshots(tags=[PG_BASE_TAG])
