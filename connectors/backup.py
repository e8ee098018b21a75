"""Database backups."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from connectors.base import ActionSpec, Connector, Params


class RunBackupParams(Params):
    kind: Literal["full", "incremental"] = "full"
    keep: int = Field(14, ge=1, description="How many backups of this kind to keep")
    verify: bool = Field(True, description="Restore into a scratch database to check the backup")


class BackupConnector(Connector):
    name = "backup"
    actions: ClassVar[dict[str, ActionSpec]] = {
        "run": ActionSpec("run", RunBackupParams, "Back up the database",
                          outputs=("backup_id", "path", "size_bytes")),
    }
