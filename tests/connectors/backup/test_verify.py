"""A damaged snapshot is found by verify and never restored: a corrupted pack, a truncated dump."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from connectors.backup.backups import BackupSources, snapshot, stage, staging_area
from connectors.backup.errors import BackupCorrupted
from connectors.backup.restic import Restic
from connectors.backup.settings import BackupSettings
from tests.connectors.backup.conftest import ServiceFactory
from tests.connectors.backup.support import events_flowing, events_of


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def corrupt_largest_pack(repository: Path) -> None:
    packs = [p for p in (repository / "data").rglob("*") if p.is_file()]
    pack = max(packs, key=lambda p: p.stat().st_size)
    raw = bytearray(pack.read_bytes())
    for offset in range(len(raw) // 4, len(raw) // 2, 4096):
        raw[offset] ^= 0xFF
    pack.chmod(0o600)
    pack.write_bytes(bytes(raw))


def test_a_corrupted_pack_fails_verify_and_the_restore_leaves_the_target_alone(
        make_service: ServiceFactory, sqlite_url: str, backup_settings: BackupSettings,
        tmp_path: Path) -> None:
    service = make_service(sqlite_url)
    with events_flowing(sqlite_url):
        pass
    snapshot_id = service.run(verify=True).snapshot_id
    corrupt_largest_pack(Path(backup_settings.repository))

    with pytest.raises(BackupCorrupted):
        service.verify(snapshot_id)
    target = tmp_path / "target.db"
    with pytest.raises(BackupCorrupted):
        service.restore(snapshot_id, f"sqlite:///{target}")
    assert not target.exists()


def test_verify_reading_data_reports_the_damage_as_backup_failed(make_service: ServiceFactory,
                                                                 sqlite_url: str,
                                                                 backup_settings: BackupSettings) -> None:
    service = make_service(sqlite_url)
    service.run(verify=False)
    corrupt_largest_pack(Path(backup_settings.repository))
    with pytest.raises(BackupCorrupted):
        service.verify("latest", read_data_subset="100%")
    (event,) = events_of(sqlite_url, "backup.failed")
    assert event["stage"] == "verify" and event["reason"] == "corrupted"


def test_a_dump_truncated_before_the_snapshot_fails_the_test_restore_and_is_never_restored(
        restic: Restic, sqlite_url: str, tmp_path: Path, make_service: ServiceFactory) -> None:
    with events_flowing(sqlite_url):
        pass
    with staging_area(tmp_path / "staging") as root:
        stage(BackupSources(sqlite_url), root)
        dump = root / "database" / "despacho.sqlite3"
        with dump.open("r+b") as handle:  # a disk filled up, a copy cut short
            handle.truncate(dump.stat().st_size // 2)
        snapshot_id = snapshot(restic, root).snapshot_id
    service = make_service(sqlite_url)

    with pytest.raises(BackupCorrupted, match="damaged"):
        service.verify(snapshot_id)
    other = tmp_path / "other.db"
    other.write_bytes(Path(sqlite_url.removeprefix("sqlite:///")).read_bytes())
    before = digest(other)
    with pytest.raises(BackupCorrupted, match="will not be restored"):
        service.restore(snapshot_id, f"sqlite:///{other}", force=True)
    assert digest(other) == before
