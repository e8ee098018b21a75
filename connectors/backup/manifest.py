"""``manifest.json``: what a snapshot holds, written beside the dumps and checked on every test restore.

It records the database engine and version, the alembic revision, the row count of
every table, the sha256 and size of each dump, and the rules' git commit. A test
restore compares the restored database with it; a dump whose sha256 differs is
damaged and is never restored.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from connectors.backup.errors import BackupCorrupted

MANIFEST_NAME = "manifest.json"
FORMAT = 1
KINDS = ("full", "incremental")
RESTORE_POINT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}")
SNAPSHOT = re.compile(r"[0-9a-f]{8,64}")


@dataclass(frozen=True)
class DumpEntry:
    sha256: str
    size: int


@dataclass
class Manifest:
    created_at: str
    despacho_version: str
    engine: str
    engine_version: str
    revision: str | None
    tables: dict[str, int]
    dumps: dict[str, DumpEntry]  # path relative to the snapshot's root -> digest
    files: list[str] = field(default_factory=list)  # rules, templates, config (relative paths)
    rules_commit: str | None = None
    rules_dirty: bool = False
    database: str = ""  # the URL, password masked
    notes: list[str] = field(default_factory=list)
    format: int = FORMAT
    # "full": the dumps above; "incremental" (PostgreSQL with a WAL archive): no dump and no row counts,
    # the database is the base backup ``base_snapshot`` rolled forward to ``restore_point``
    kind: str = "full"
    base_snapshot: str | None = None
    restore_point: str | None = None
    restore_lsn: str | None = None
    wal_file: str | None = None  # the segment holding the restore point, archived before the snapshot
    wal_snapshot: str | None = None  # the pg-wal snapshot pushed with it (retention keeps only the newest)

    @property
    def incremental(self) -> bool:
        return self.kind == "incremental"

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        try:
            raw: dict[str, Any] = json.loads(text)
            if str(raw.get("kind", "full")) not in KINDS:
                raise ValueError(f"unknown kind {str(raw.get('kind'))[:20]!r} (full or incremental)")
            # both end up in a recovery's configuration and restic's arguments: only what despacho writes
            point = raw.get("restore_point")
            if point is not None and not RESTORE_POINT.fullmatch(str(point)):
                raise ValueError("restore_point is not a name despacho makes")
            if raw.get("base_snapshot") is not None and not SNAPSHOT.fullmatch(str(raw["base_snapshot"])):
                raise ValueError("base_snapshot is not a snapshot id")
            dumps = {str(k): DumpEntry(sha256=str(v["sha256"]), size=int(v["size"]))
                     for k, v in raw["dumps"].items()}
            return cls(created_at=str(raw["created_at"]), despacho_version=str(raw["despacho_version"]),
                       engine=str(raw["engine"]), engine_version=str(raw["engine_version"]),
                       revision=raw.get("revision"),
                       tables={str(k): int(v) for k, v in raw["tables"].items()},
                       dumps=dumps, files=[str(f) for f in raw.get("files", [])],
                       rules_commit=raw.get("rules_commit"), rules_dirty=bool(raw.get("rules_dirty", False)),
                       database=str(raw.get("database", "")), notes=[str(n) for n in raw.get("notes", [])],
                       format=int(raw.get("format", FORMAT)), kind=str(raw.get("kind", "full")),
                       base_snapshot=_text(raw.get("base_snapshot")),
                       restore_point=_text(raw.get("restore_point")),
                       restore_lsn=_text(raw.get("restore_lsn")), wal_file=_text(raw.get("wal_file")),
                       wal_snapshot=_text(raw.get("wal_snapshot")))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupCorrupted(f"the snapshot's manifest.json is unreadable: {exc}") from exc


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def rules_commit(folder: Path) -> tuple[str | None, bool]:
    """The git commit the rules folder is at, and whether it has uncommitted changes; (None, False)
    when it is not in a git repository (or git is missing)."""
    if not folder.is_dir():
        return None, False
    try:
        head = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=False, timeout=30)
        if head.returncode != 0:
            return None, False
        status = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--", "."],
                                capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None, False
    return head.stdout.strip() or None, bool(status.stdout.strip())


def despacho_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("despacho")
    except PackageNotFoundError:
        return "unknown"
