"""Full or incremental: the cadence of ``backup run`` on PostgreSQL with a WAL archive, and what an
incremental backup is.

A *full* backup is the logical dump (``backups.run_backup``) plus a base backup (``pg-base``) that
starts a chain, plus the WAL archive pushed. An *incremental* one copies no table: it names a restore
point on the server, waits until the segment holding it is archived, pushes the WAL archive folder
(restic stores only the new segments) and stores a snapshot holding the manifest, the rules,
templates and config. Its database is the base backup rolled forward to that restore point.

``pg_dump`` reads every row every time; only the WAL costs what changed, so only this path can be
much cheaper than the first backup.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from connectors.backup.backups import (
    BASE_TAG,
    BackupOutcome,
    BackupSources,
    Step,
    copy_files,
    snapshot,
    staging_area,
)
from connectors.backup.errors import BackupError
from connectors.backup.manifest import MANIFEST_NAME, Manifest, despacho_version, rules_commit
from connectors.backup.pitr import PG_BASE_TAG, push_wal_summary
from connectors.backup.restic import BackupSummary, Restic, Snapshot
from connectors.backup.settings import BackupSettings
from connectors.backup.wal_switch import ClosedSegment, close_segment

INCREMENTAL_TAG = "incremental"
BASE_REF = "base="  # tag prefix naming the base: retention reads tags, not every manifest
SAFETY_TAG = "safety"

Requested = Literal["auto", "full", "incremental", "dump"]  # dump: the logical dump only (safety backups)
Kind = Literal["full", "incremental", "dump"]


@dataclass(frozen=True)
class Cadence:
    kind: Kind
    base: Snapshot | None  # the base an incremental rolls forward from
    reason: str


def base_tag(snapshot_id: str) -> str:
    return BASE_REF + snapshot_id


def base_of(snapshot: Snapshot) -> str | None:
    """The base snapshot id an incremental snapshot's tags name."""
    return next((t[len(BASE_REF):] for t in snapshot.tags if t.startswith(BASE_REF)), None)


def kind_of(snapshot: Snapshot) -> str:
    return "incremental" if INCREMENTAL_TAG in snapshot.tags else "full"


def choose(restic: Restic, settings: BackupSettings, requested: Requested, *, engine: str,
           now: datetime) -> Cadence:
    """Which backup ``backup run`` takes now (see the module's docstring)."""
    if requested == "dump":
        return Cadence("dump", None, "a logical dump only")
    chained = engine == "postgresql" and settings.wal_archive is not None
    if requested == "incremental" and not chained:
        raise BackupError("--incremental needs PostgreSQL with connectors.backup.wal_archive set (an "
                          "incremental backup is the archived WAL); without it every backup is full",
                          reason="refused")
    if not chained:
        return Cadence("full", None, "no WAL archive: every backup is a logical dump")
    if requested == "full":
        return Cadence("full", None, "--full")
    # one listing, filtered here (a new repository is created: its first backup is full, not an error)
    everything = restic.snapshots_creating()
    base = _newest([s for s in everything if PG_BASE_TAG in s.tags])
    if requested == "incremental":
        if base is None:
            raise BackupError("--incremental needs a base backup in the repository and there is none: run "
                              "'despacho backup run --full' first", reason="not_found")
        return Cadence("incremental", base, "--incremental")
    fulls = [s for s in everything
             if BASE_TAG in s.tags and INCREMENTAL_TAG not in s.tags and SAFETY_TAG not in s.tags]
    full = _newest(fulls)
    age = settings.full_every_delta
    if full is None or now - full.time >= age:
        return Cadence("full", None, f"no full backup younger than {settings.full_every}")
    if base is None or now - base.time >= age:
        return Cadence("full", None, f"no base backup younger than {settings.full_every}")
    return Cadence("incremental", base, f"full backup {full.short_id} is younger than {settings.full_every}")


def _newest(snapshots: Sequence[Snapshot]) -> Snapshot | None:
    return max(snapshots, key=lambda s: s.time) if snapshots else None


def restore_point_name(at: datetime | None = None) -> str:
    """Unique (recovery stops at the first point of that name), short (PostgreSQL keeps 63 bytes)."""
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    return f"despacho-{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class WalPushed:
    closed: ClosedSegment
    summary: BackupSummary
    started: float  # time.monotonic() when the incremental began


def close_and_push(restic: Restic, sources: BackupSources, settings: BackupSettings, *,
                   at: datetime | None = None, step: Step | None = None) -> WalPushed:
    """The server side of an incremental backup: restore point, segment closed and archived, the
    archive folder pushed (restic reads only the segments it has not stored yet)."""
    if settings.wal_archive is None:
        raise BackupError("an incremental backup needs connectors.backup.wal_archive", reason="refused")
    started = time.monotonic()
    archive = Path(settings.wal_archive)
    closed = close_segment(sources.database_url, restore_point_name(at), archive,
                           timeout=settings.wal_wait_seconds)
    wal = push_wal_summary(restic, archive, time=at)
    if wal is None:
        raise BackupError(f"the WAL archive {archive} is empty after the server archived {closed.wal_file} "
                          "into it", reason="failed")
    if step:
        step("wal", 1.0)
    return WalPushed(closed, wal, started)


def store_incremental(restic: Restic, sources: BackupSources, settings: BackupSettings, base: Snapshot,
                      pushed: WalPushed, *, tags: Sequence[str] = (), at: datetime | None = None,
                      step: Step | None = None) -> BackupOutcome:
    """The snapshot of an incremental backup: its manifest and the rules, templates and config."""
    with staging_area(Path(settings.staging)) as root:
        try:
            manifest = incremental_manifest(sources, base, pushed.closed, pushed.summary.snapshot_id,
                                            copy_files(sources, root))
            (root / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
            summary = snapshot(restic, root, tags=[INCREMENTAL_TAG, base_tag(base.id), *tags], at=at,
                               step=step)
        finally:
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(exist_ok=True)
    wal = pushed.summary
    both = replace(summary, data_added=summary.data_added + wal.data_added,
                   total_bytes_processed=summary.total_bytes_processed + wal.total_bytes_processed)
    return BackupOutcome(summary.snapshot_id, manifest, both, time.monotonic() - pushed.started)


def incremental_manifest(sources: BackupSources, base: Snapshot, closed: ClosedSegment, wal_snapshot: str,
                         files: list[str]) -> Manifest:
    from sqlalchemy.engine import make_url

    commit, dirty = rules_commit(sources.rules) if sources.rules is not None else (None, False)
    return Manifest(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"), despacho_version=despacho_version(),
        engine="postgresql", engine_version=closed.server_version, revision=closed.revision, tables={},
        dumps={}, files=files, rules_commit=commit, rules_dirty=dirty,
        database=make_url(sources.database_url).render_as_string(hide_password=True),
        notes=[f"incremental: no dump and no row counts; the database is base backup {base.short_id} "
               f"rolled forward through the WAL to restore point {closed.restore_point} "
               f"(LSN {closed.lsn}, segment {closed.wal_file})"],
        kind="incremental", base_snapshot=base.id, restore_point=closed.restore_point, restore_lsn=closed.lsn,
        wal_file=closed.wal_file, wal_snapshot=wal_snapshot)
