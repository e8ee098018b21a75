"""The restic wrapper against a real repository in a temporary folder."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.backup.errors import BackupCorrupted, BackupError, RepositoryUnavailable
from connectors.backup.restic import BackupProgress, Restic
from tests.connectors.backup.conftest import PASSWORD


def files(folder: Path, **contents: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in contents.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_ensure_repository_creates_once_then_opens(tmp_path: Path, restic: Restic) -> None:
    assert (tmp_path / "repo" / "config").is_file()
    assert restic.ensure_repository() is False


def test_a_backup_into_a_missing_repository_creates_it_then_stores_the_snapshot(tmp_path: Path) -> None:
    restic = Restic(str(tmp_path / "new" / "repo"), PASSWORD, env={"RESTIC_CACHE_DIR": str(tmp_path / "c")})
    summary = restic.backup_creating([files(tmp_path / "data", **{"a.txt": "alpha"})], tags=["despacho"])
    (snapshot,) = restic.snapshots()
    assert snapshot.id.startswith(summary.snapshot_id)
    assert restic.ensure_repository() is False


def test_listing_a_missing_repository_creates_it_and_finds_nothing(tmp_path: Path) -> None:
    restic = Restic(str(tmp_path / "repo"), PASSWORD, env={"RESTIC_CACHE_DIR": str(tmp_path / "c")})
    assert restic.snapshots_creating() == []
    assert (tmp_path / "repo" / "config").is_file()
    restic.backup([files(tmp_path / "data", **{"a.txt": "alpha"})])
    assert len(restic.snapshots_creating()) == 1


def test_a_wrong_password_is_never_taken_for_a_missing_repository(tmp_path: Path, restic: Restic) -> None:
    wrong = Restic(str(tmp_path / "repo"), "not the password", env={"RESTIC_CACHE_DIR": str(tmp_path / "c")})
    with pytest.raises(RepositoryUnavailable, match="password"):
        wrong.snapshots_creating()
    with pytest.raises(RepositoryUnavailable, match="password"):
        wrong.backup_creating([files(tmp_path / "data", **{"a.txt": "alpha"})])


def test_backup_lists_and_dumps_a_file(tmp_path: Path, restic: Restic) -> None:
    data = files(tmp_path / "data", **{"a.txt": "alpha", "b.txt": "beta"})
    seen: list[BackupProgress] = []
    snapshot_id = restic.backup([data], tags=["despacho", "daily"], progress=seen.append)

    (snapshot,) = restic.snapshots(tags=["despacho"])
    assert snapshot.id.startswith(snapshot_id) and snapshot.short_id == snapshot.id[:8]
    assert set(snapshot.tags) == {"despacho", "daily"}
    assert snapshot.paths == (str(data.resolve()),)
    assert restic.snapshots(tags=["other"]) == []
    out = io.BytesIO()
    assert restic.dump(snapshot_id, f"{data.resolve()}/b.txt", out) == 4
    assert out.getvalue() == b"beta"


def test_backup_time_backdates_the_snapshot(tmp_path: Path, restic: Restic) -> None:
    data = files(tmp_path / "data", **{"a.txt": "alpha"})
    when = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
    restic.backup([data], tags=["despacho"], time=when)
    (snapshot,) = restic.snapshots()
    assert snapshot.time == when


def test_restore_writes_the_files_under_the_target(tmp_path: Path, restic: Restic) -> None:
    data = files(tmp_path / "data", **{"a.txt": "alpha", "b.txt": "beta"})
    snapshot_id = restic.backup([data], tags=["despacho"])
    target = tmp_path / "restored"
    restic.restore(snapshot_id, target, include=[f"{data.resolve()}/a.txt"])
    restored = target / str(data.resolve()).lstrip("/")
    assert (restored / "a.txt").read_text() == "alpha"
    assert not (restored / "b.txt").exists()


def test_second_backup_adds_only_what_changed(tmp_path: Path, restic: Restic) -> None:
    data = files(tmp_path / "data", big="x" * 2_000_000 + "tail")
    first = restic.backup_summary([data], tags=["despacho"])
    (data / "small").write_text("new")
    second = restic.backup_summary([data], tags=["despacho"])
    assert second.files_unmodified == 1 and second.files_new == 1
    assert second.data_added < first.data_added / 10


def test_snapshot_finds_by_prefix_and_latest(tmp_path: Path, restic: Restic) -> None:
    data = files(tmp_path / "data", a="1")
    first = restic.backup([data], time=datetime(2025, 1, 1, tzinfo=UTC))
    second = restic.backup([data], time=datetime(2025, 1, 2, tzinfo=UTC))
    assert restic.snapshot(first[:8]).id.startswith(first)
    assert restic.snapshot("latest").id.startswith(second)
    with pytest.raises(BackupError) as info:
        restic.snapshot("deadbeef")
    assert info.value.reason == "not_found"


def test_check_passes_on_a_sound_repository_and_reads_a_subset(tmp_path: Path, restic: Restic) -> None:
    restic.backup([files(tmp_path / "data", a="1")])
    assert "no errors" in restic.check()
    assert "no errors" in restic.check(read_data_subset="100%")


def test_check_reading_data_finds_a_corrupted_pack(tmp_path: Path, restic: Restic) -> None:
    data = files(tmp_path / "data", big="payload " * 100_000)
    restic.backup([data])
    packs = [p for p in (tmp_path / "repo" / "data").rglob("*") if p.is_file()]
    pack = max(packs, key=lambda p: p.stat().st_size)
    raw = bytearray(pack.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    pack.chmod(0o600)
    pack.write_bytes(bytes(raw))
    with pytest.raises(BackupCorrupted):
        restic.check(read_data_subset="100%")


def test_wrong_password_is_unavailable_and_not_echoed(tmp_path: Path, restic: Restic) -> None:
    other = Restic(restic.repository, "not-the-password",
                   env={"RESTIC_CACHE_DIR": str(tmp_path / "cache")})
    with pytest.raises(RepositoryUnavailable) as info:
        other.snapshots()
    assert "not-the-password" not in str(info.value) and PASSWORD not in str(info.value)


def test_missing_repository_is_unavailable(tmp_path: Path) -> None:
    missing = Restic(str(tmp_path / "nowhere"), PASSWORD)
    with pytest.raises(RepositoryUnavailable, match="no repository"):
        missing.snapshots()


def test_forget_applies_retention_and_prunes(tmp_path: Path, restic: Restic) -> None:
    data = files(tmp_path / "data", a="1")
    start = datetime(2025, 1, 1, 2, 0, tzinfo=UTC)
    for day in range(10):
        (data / "a").write_text(str(day))
        restic.backup([data], tags=["despacho"], time=start + timedelta(days=day))
    result = restic.forget(keep_daily=3, keep_weekly=0, keep_monthly=0, prune=True, tags=["despacho"])
    assert len(result.kept) == 3 and len(result.removed) == 7
    remaining = restic.snapshots()
    assert [s.time.day for s in remaining] == [8, 9, 10]


def test_forget_refuses_to_keep_nothing(restic: Restic) -> None:
    with pytest.raises(BackupError, match="keeps nothing"):
        restic.forget(0, 0, 0)
