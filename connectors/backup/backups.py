"""One backup: dump the database and copy rules, templates and config into the staging folder
with a manifest (``stage``), hand the folder to restic (``snapshot``), then check it (``verify``).

The staging folder has the same path every time, so restic finds the previous snapshot of it
as the parent and stores only the chunks that changed. A lock file keeps two backups on one
machine from writing it at once.
"""

from __future__ import annotations

import fcntl
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from connectors.backup.dumps import dump_database, sha256_of
from connectors.backup.errors import BackupError
from connectors.backup.manifest import MANIFEST_NAME, DumpEntry, Manifest, despacho_version, rules_commit
from connectors.backup.restic import BackupProgress, BackupSummary, Restic

BASE_TAG = "despacho"
ROOT_NAME = "despacho"  # the folder in the staging area, and in every snapshot
Step = Callable[[str, float], None]  # (phase, fraction done): the CLI's progress bars


@dataclass(frozen=True)
class BackupSources:
    """What a backup copies: the database at ``database_url``, the rules, the templates, the config."""

    database_url: str
    rules: Path | None = None
    templates: Path | None = None
    config_file: Path | None = None


@dataclass(frozen=True)
class BackupOutcome:
    snapshot_id: str
    manifest: Manifest
    summary: BackupSummary
    duration: float

    @property
    def size_bytes(self) -> int:
        return self.summary.total_bytes_processed


@contextmanager
def staging_area(staging: Path) -> Iterator[Path]:
    """``<staging>/despacho``, emptied, held under an exclusive lock until the snapshot is taken."""
    staging.mkdir(parents=True, exist_ok=True)
    staging.chmod(0o700)  # dumps hold every customer's data
    with (staging / ".lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BackupError(f"another backup is running (lock {staging / '.lock'})",
                              reason="locked") from exc
        root = staging / ROOT_NAME
        if root.exists():
            shutil.rmtree(root)
        root.mkdir()
        try:
            yield root
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def stage(sources: BackupSources, root: Path, step: Step | None = None) -> Manifest:
    """Write the dumps, the copied files and ``manifest.json`` under ``root``."""
    from sqlalchemy.engine import make_url

    dump = dump_database(sources.database_url, root / "database", step)
    dumps = {str(path.relative_to(root)): DumpEntry(sha256=sha256_of(path), size=path.stat().st_size)
             for path in dump.files}
    files = copy_files(sources, root)
    commit, dirty = rules_commit(sources.rules) if sources.rules is not None else (None, False)
    manifest = Manifest(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"), despacho_version=despacho_version(),
        engine=dump.engine, engine_version=dump.engine_version, revision=dump.revision, tables=dump.tables,
        dumps=dumps, files=files, rules_commit=commit, rules_dirty=dirty,
        database=make_url(sources.database_url).render_as_string(hide_password=True), notes=dump.notes)
    (root / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    if step:
        step("files", 1.0)
    return manifest


def copy_files(sources: BackupSources, root: Path) -> list[str]:
    """Copy the rules, templates and config under ``root/files``; their paths relative to ``root``."""
    files: list[str] = []
    for name, source in (("rules", sources.rules), ("templates", sources.templates)):
        if source is not None and source.is_dir():
            shutil.copytree(source, root / "files" / name, symlinks=True,
                            ignore=shutil.ignore_patterns(".git", "__pycache__"))
            copied = sorted((root / "files" / name).rglob("*"))
            files += [str(p.relative_to(root)) for p in copied if p.is_file()]
    if sources.config_file is not None and sources.config_file.is_file():
        # the config as written: its ${VAR} references, not the secrets they expand to
        target = root / "files" / "config" / sources.config_file.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(sources.config_file, target)
        files.append(str(target.relative_to(root)))
    return files


def snapshot(restic: Restic, root: Path, *, tags: Sequence[str] = (), at: datetime | None = None,
             step: Step | None = None) -> BackupSummary:
    def forward(progress: BackupProgress) -> None:
        if step:
            step("upload", progress.fraction)

    summary = restic.backup_creating([root], tags=[BASE_TAG, *tags], time=at, progress=forward)
    if step:
        step("upload", 1.0)
    return summary


def run_backup(restic: Restic, sources: BackupSources, staging: Path, *, tags: Sequence[str] = (),
               at: datetime | None = None, step: Step | None = None) -> BackupOutcome:
    """Dump, copy, snapshot; the staging folder is emptied afterwards (dumps are not left lying about)."""
    started = time.monotonic()
    with staging_area(staging) as root:
        try:
            manifest = stage(sources, root, step)
            summary = snapshot(restic, root, tags=tags, at=at, step=step)
        finally:
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(exist_ok=True)
    return BackupOutcome(summary.snapshot_id, manifest, summary, time.monotonic() - started)
