"""The daily retention purge, a built-in scheduler job run by the leader only.

The purge itself (``store.privacy.retention``) deletes in short batches; here it is only
scheduled, and a failure is logged and left for the next day rather than raised into the
scheduler (a database hiccup must not stop the other built-in jobs).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
import structlog

from engine.runtime.scheduler import BuiltinJob
from store.durations import parse_duration
from store.privacy.retention import PurgeReport, purge
from store.privacy.settings import PrivacySettings

log = structlog.get_logger("despacho.privacy")


@dataclass
class PrivacyJobs:
    settings: PrivacySettings
    db: sa.Engine

    def jobs(self) -> list[BuiltinJob]:
        return [BuiltinJob("privacy-purge", parse_duration(self.settings.purge_every).total_seconds(),
                           self.purge)]

    def purge(self) -> PurgeReport | None:
        try:
            report = purge(self.db, self.settings)
        except sa.exc.SQLAlchemyError as exc:
            log.error("privacy_purge_failed", error=exc.__class__.__name__)
            return None
        log.info("privacy_purge_done", counts=report.counts, complete=report.complete)
        return report
