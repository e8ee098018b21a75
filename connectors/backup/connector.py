"""Database backups."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from connectors.backup.settings import BackupSettings
from connectors.base import ActionCall, ActionSpec, Connector, Params
from connectors.recorded import write_to_outbox


class RunBackupParams(Params):
    kind: Literal["full", "incremental"] = "full"
    keep: int = Field(14, ge=1, description="How many backups of this kind to keep")
    verify: bool = Field(True, description="Restore into a scratch database to check the backup")


class BackupConnector(Connector):
    name = "backup"
    settings_model = BackupSettings
    actions: ClassVar[dict[str, ActionSpec]] = {
        "run": ActionSpec("run", RunBackupParams, "Back up the database",
                          outputs=("backup_id", "path", "size_bytes")),
    }

    def execute(self, call: ActionCall) -> dict[str, Any]:
        return write_to_outbox(self, call)
