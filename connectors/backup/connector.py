"""``backup.run``: back up the database, rules, templates and config into the restic repository.

Transport ``restic`` (the default) dumps, snapshots and verifies through
``connectors.backup.service``; ``file`` writes the call to the outbox instead (tests of
rules that must not touch a repository). Delivery is at-least-once: each snapshot carries
a tag derived from the step's idempotency key, and a retried step that finds its snapshot
returns it instead of making a second one.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from connectors.backup.errors import BackupError
from connectors.backup.settings import BackupSettings
from connectors.base import ActionCall, ActionSpec, Connector, Params, PermanentError, Runtime, TransientError
from connectors.recorded import write_to_outbox

if TYPE_CHECKING:
    from connectors.backup.restic import Snapshot
    from connectors.backup.service import BackupService

# ``path`` (FILE_OUTPUT) is the outbox file on the file transport; a snapshot is no file to attach: None
RUN_OUTPUTS = ("backup_id", "snapshot_id", "path", "size_bytes", "data_added", "duration_seconds", "verified",
               "engine", "revision", "rows", "tables", "reused", "kind")


class RunBackupParams(Params):
    verify: bool | None = Field(None, description="Test-restore the snapshot into a scratch database "
                                                  "(default: connectors.backup.verify)")
    forget: bool = Field(True, description="Apply the retention policy afterwards (keep_daily, keep_weekly, "
                                           "keep_monthly) and prune")
    tags: list[str] = Field(default_factory=list, description="Extra restic tags for the snapshot",
                            max_length=10)


class BackupConnector(Connector):
    name = "backup"
    settings_model = BackupSettings
    actions: ClassVar[dict[str, ActionSpec]] = {
        "run": ActionSpec("run", RunBackupParams, "Back up the database, rules, templates and config "
                          "(restic snapshot, verified by a test restore)", outputs=RUN_OUTPUTS),
    }

    def __init__(self, settings: BackupSettings | None = None, runtime: Runtime | None = None) -> None:
        super().__init__(settings, runtime)
        assert isinstance(self.settings, BackupSettings)
        self.backup_settings: BackupSettings = self.settings

    def service(self) -> BackupService:
        from connectors.backup.repository import open_repository
        from connectors.backup.service import BackupService

        sources = self.runtime.backup_sources
        if sources is None:
            raise PermanentError("backup.run needs the database and folders to copy (runtime.backup_sources)",
                                 code="not_configured")
        return BackupService(self.backup_settings, sources,
                             lambda: open_repository(self.backup_settings, secret=self._secret),
                             self.runtime.session)

    def _secret(self, name: str) -> str:
        from store.secrets import get_secret

        if self.runtime.secrets is None or self.runtime.session is None:
            return ""
        with self.runtime.session() as session:
            return get_secret(session, self.runtime.secrets(), name)

    def check(self) -> dict[str, Any]:
        if self.settings.transport == "file":
            return {"target": "file", "detail": "writes each call to the outbox"}
        from connectors.backup.repository import open_repository

        try:
            restic = open_repository(self.backup_settings, secret=self._secret)
            snapshots = restic.snapshots(tags=["despacho"])
        except BackupError as exc:
            raise PermanentError(str(exc), code=f"backup_{exc.reason}") from exc
        last = snapshots[-1].time.isoformat(timespec="minutes") if snapshots else "none"
        return {"target": restic.display_repository,
                "detail": f"{len(snapshots)} snapshots, the newest {last}"}

    def plan(self, action: str, params: Params, message: dict[str, str] | None) -> dict[str, Any]:
        assert isinstance(params, RunBackupParams)
        s = self.backup_settings
        return {"transport": s.transport, "repository": s.repository if s.transport == "restic" else None,
                "verify": s.verify if params.verify is None else params.verify,
                "retention": {"daily": s.keep_daily, "weekly": s.keep_weekly, "monthly": s.keep_monthly}
                if params.forget else None}

    def execute(self, call: ActionCall) -> dict[str, Any]:
        if self.settings.transport == "file":
            return write_to_outbox(self, call)
        assert isinstance(call.params, RunBackupParams)
        run_tag = "run-" + hashlib.sha256(call.idempotency_key.encode()).hexdigest()[:16]
        try:
            service = self.service()
            service.restic.ensure_repository()
            earlier = service.restic.snapshots(tags=[run_tag])
            if earlier:
                return _reused_outputs(service, earlier[-1])
            result = service.run(tags=[*call.params.tags, run_tag], verify=call.params.verify,
                                 forget=call.params.forget)
        except BackupError as exc:
            if exc.reason in ("unavailable", "locked"):
                raise TransientError(str(exc)) from exc
            raise PermanentError(str(exc), code=f"backup_{exc.reason}") from exc
        manifest = result.outcome.manifest
        return {"backup_id": result.backup_id, "snapshot_id": result.snapshot_id, "path": None,
                "size_bytes": result.outcome.size_bytes, "data_added": result.outcome.summary.data_added,
                "duration_seconds": round(result.outcome.duration, 3),
                "verified": result.verified is not None, "engine": manifest.engine,
                "revision": manifest.revision, "rows": manifest.rows, "tables": len(manifest.tables),
                "reused": False, "kind": manifest.kind}


def _reused_outputs(service: BackupService, snapshot: Snapshot) -> dict[str, Any]:
    """A retried step's outputs: the snapshot its first attempt made."""
    from connectors.backup.verify import load_manifest

    manifest = load_manifest(service.restic, snapshot)
    return {"backup_id": None, "snapshot_id": snapshot.short_id, "path": None,
            "size_bytes": sum(d.size for d in manifest.dumps.values()), "data_added": 0,
            "duration_seconds": 0.0, "verified": False, "engine": manifest.engine,
            "revision": manifest.revision, "rows": manifest.rows, "tables": len(manifest.tables),
            "reused": True, "kind": manifest.kind}
