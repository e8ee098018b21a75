"""Retention over a simulated year of nightly backups keeps exactly 7 daily, 4 weekly, 12 monthly."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from connectors.backup.restic import Restic

POLICY = {"keep_daily": 7, "keep_weekly": 4, "keep_monthly": 12}


def expected_kept(days: list[date], daily: int, weekly: int, monthly: int) -> set[date]:
    """The policy restic documents, written independently: the newest snapshot of each of the
    newest N days, ISO weeks and months."""
    kept: set[date] = set()
    for size, bucket in ((daily, lambda d: d), (weekly, lambda d: d.isocalendar()[:2]),
                         (monthly, lambda d: (d.year, d.month))):
        newest_per_bucket: dict[object, date] = {}
        for day in sorted(days, reverse=True):
            newest_per_bucket.setdefault(bucket(day), day)
        kept |= set(list(newest_per_bucket.values())[:size])
    return kept


def test_a_year_of_nightly_backups_keeps_the_right_snapshots(restic: Restic, tmp_path: Path) -> None:
    """Each night a backup dated that night (``--time``); the retention run at the end of the year."""
    data = tmp_path / "data"
    data.mkdir()
    first = date(2025, 1, 1)
    days = [first + timedelta(days=n) for n in range(365)]
    for day in days:
        (data / "dump").write_text(day.isoformat())
        restic.backup([data], tags=["despacho"], time=datetime(day.year, day.month, day.day, 5, tzinfo=UTC))

    result = restic.forget(**POLICY, prune=True, tags=["despacho"])

    remaining = {s.time.date() for s in restic.snapshots()}
    assert remaining == expected_kept(days, 7, 4, 12)
    assert len(result.kept) == len(remaining) and len(result.removed) == 365 - len(remaining)
    # spelled out: the last week, the two Sundays before it, and the last day of every month
    assert remaining == ({date(2025, 12, d) for d in range(25, 32)} | {date(2025, 12, 21), date(2025, 12, 14)}
                         | {date(2025, m, 1) - timedelta(days=1) for m in range(2, 13)})
    assert "no errors" in restic.check()


def test_retention_never_forgets_the_base_backup_a_kept_incremental_needs(restic: Restic,
                                                                          tmp_path: Path) -> None:
    from connectors.backup.backups import BackupSources
    from connectors.backup.incremental import INCREMENTAL_TAG, base_tag
    from connectors.backup.pitr import PG_BASE_TAG
    from connectors.backup.service import BackupService
    from connectors.backup.settings import BackupSettings

    now = datetime.now(UTC)
    folder = tmp_path / "piece"
    folder.mkdir()

    def snap(days_ago: int, *tags: str) -> str:
        (folder / "f").write_text(f"{days_ago}{tags}", encoding="utf-8")
        return restic.backup([folder], tags=tags, time=now - timedelta(days=days_ago))

    b0, b1 = snap(7, PG_BASE_TAG), snap(4, PG_BASE_TAG)
    i0 = snap(6, "despacho", INCREMENTAL_TAG, base_tag(b0))
    i1 = snap(3, "despacho", INCREMENTAL_TAG, base_tag(b1))
    b2, b3 = snap(2, PG_BASE_TAG), snap(1, PG_BASE_TAG)  # 'despacho backup base' taken by hand
    full = snap(1, "despacho")
    settings = BackupSettings(transport="restic", repository=restic.repository, keep_daily=2, keep_weekly=0,
                              keep_monthly=0)
    BackupService(settings, BackupSources("sqlite:///unused.db"), lambda: restic).forget(prune=True)

    kept = {s.id[:8] for s in restic.snapshots()}
    assert {i1[:8], full[:8]} <= kept and i0[:8] not in kept  # the policy on the daily snapshots
    assert {b2[:8], b3[:8]} <= kept  # the policy on the base backups
    assert b1[:8] in kept  # out of the policy, but i1 rolls forward from it
    assert b0[:8] not in kept  # its incremental is gone: so is it
