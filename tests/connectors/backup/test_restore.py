"""Restoring: refused on a target holding data, safety backup first, migrations run forward."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from connectors.backup.restore import TargetNotEmpty
from store import migrate
from store.db import make_engine, session_scope
from store.models import Customer
from tests.connectors.backup.conftest import ServiceFactory
from tests.connectors.backup.support import count, events_flowing
from tests.support.postgres import throwaway_pg_database


def add_customer(url: str, name: str = "Maria Souza") -> None:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            session.add(Customer(name=name, phone="+5511987654321", email="maria@example.com"))
    finally:
        engine.dispose()


def test_restore_into_a_target_holding_data_is_refused_without_force(make_service: ServiceFactory,
                                                                     sqlite_url: str) -> None:
    add_customer(sqlite_url)
    service = make_service(sqlite_url)
    snapshot_id = service.run(verify=False).snapshot_id
    before = len(service.restic.snapshots())
    with pytest.raises(TargetNotEmpty, match="--force"):
        service.restore(snapshot_id)
    assert len(service.restic.snapshots()) == before  # no safety backup either: nothing happened


def test_restore_with_force_backs_the_target_up_first_then_replaces_it(make_service: ServiceFactory,
                                                                      sqlite_url: str) -> None:
    add_customer(sqlite_url)
    service = make_service(sqlite_url)
    snapshot_id = service.run(verify=False).snapshot_id
    add_customer(sqlite_url, "Pedro Alves")  # the mistake a restore undoes

    report = service.restore(snapshot_id, force=True)

    assert report.tables["customers"] == 1 and count(sqlite_url, "customers") == 1
    assert report.safety_snapshot is not None
    safety = service.restic.snapshot(report.safety_snapshot)
    assert "safety" in safety.tags
    from connectors.backup.verify import load_manifest

    assert load_manifest(service.restic, safety).tables["customers"] == 2  # the replaced data is kept


def test_restore_of_an_older_snapshot_runs_the_migrations_forward(make_service: ServiceFactory,
                                                                  tmp_path: Path) -> None:
    old = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(old, "0006")
    service = make_service(old)
    snapshot_id = service.run(verify=True).snapshot_id
    target = f"sqlite:///{tmp_path / 'new.db'}"

    report = service.restore(snapshot_id, target)

    assert report.snapshot_revision == "0006" and report.revision == migrate.head_revision()
    assert report.migrated and migrate.current_revision(target) == migrate.head_revision()
    assert report.safety_snapshot is None  # the target was empty


def test_restore_into_a_migrated_but_empty_database_needs_no_force(make_service: ServiceFactory,
                                                                   sqlite_url: str, migrated_template: Path,
                                                                   tmp_path: Path) -> None:
    add_customer(sqlite_url)
    snapshot_id = make_service(sqlite_url).run(verify=False).snapshot_id
    empty = tmp_path / "empty.db"
    shutil.copy(migrated_template, empty)
    report = make_service(sqlite_url).restore(snapshot_id, f"sqlite:///{empty}")
    assert report.tables["customers"] == 1


def test_postgres_snapshot_restores_into_a_new_database_with_every_row(make_service: ServiceFactory,
                                                                        pg_url: str) -> None:
    add_customer(pg_url)
    with events_flowing(pg_url):
        pass
    service = make_service(pg_url)
    result = service.run(verify=False)
    with throwaway_pg_database() as scratch:
        name = scratch.rsplit("/", 1)[1]
        target = scratch.replace(name, name + "_restored")
        try:
            report = service.restore(result.snapshot_id, target)
            assert report.tables == result.outcome.manifest.tables
            assert migrate.current_revision(target) == migrate.head_revision()
        finally:
            from tests.support.postgres import drop_pg_database

            drop_pg_database(name + "_restored")


def test_a_sqlite_snapshot_is_not_restored_into_postgres(make_service: ServiceFactory, sqlite_url: str,
                                                         pg_url: str) -> None:
    from connectors.backup.errors import BackupError

    snapshot_id = make_service(sqlite_url).run(verify=False).snapshot_id
    with pytest.raises(BackupError, match="holds a sqlite database"):
        make_service(sqlite_url).restore(snapshot_id, pg_url, force=True)
