"""``/ready`` is degraded (200) when the last backup failed or none succeeded within max_age_hours."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from connectors.backup.settings import BackupSettings
from engine.settings import Settings
from store.db import session_scope
from store.models import Backup
from store.types import utcnow
from tests.api.conftest import JWT_KEY


def ready(settings: Settings, db_engine: sa.Engine,
          headers: dict[str, str] | None = None) -> dict[str, object]:
    backups = settings.connectors.model_copy(update={"backup": BackupSettings(transport="restic")})
    configured = settings.model_copy(update={"connectors": backups})
    api = ApiSettings(jwt_keys=f"t1:{JWT_KEY}", rate_limit_storage="memory://")
    with TestClient(create_app(configured, api=api, engine=db_engine)) as client:
        response = client.get("/ready", headers=headers or {})
    assert response.status_code == 200
    return dict(response.json())


def add(db_engine: sa.Engine, status: str, hours_ago: float, error: str | None = None) -> None:
    at = utcnow() - timedelta(hours=hours_ago)
    with session_scope(db_engine) as session:
        session.add(Backup(status=status, started_at=at, finished_at=at, error=error))


def test_ready_is_degraded_before_any_backup_succeeded(settings: Settings, db_engine: sa.Engine,
                                                       auth) -> None:  # type: ignore[no-untyped-def]
    body = ready(settings, db_engine, auth("ops:read"))
    assert body["status"] == "degraded"
    assert body["checks"]["backup"] == {"status": "degraded", "last_success_at": None,  # type: ignore[index]
                                        "detail": "no backup has succeeded yet"}


def test_ready_is_ready_after_a_recent_backup_and_degraded_when_it_is_too_old(settings: Settings,
                                                                              db_engine: sa.Engine) -> None:
    add(db_engine, "succeeded", 2)
    assert ready(settings, db_engine)["status"] == "ready"
    with session_scope(db_engine) as session:
        session.execute(sa.update(Backup).values(started_at=utcnow() - timedelta(hours=27),
                                                 finished_at=utcnow() - timedelta(hours=27)))
    assert ready(settings, db_engine)["status"] == "degraded"


def test_ready_is_degraded_when_the_last_backup_failed_even_after_an_earlier_success(
        settings: Settings, db_engine: sa.Engine, auth) -> None:  # type: ignore[no-untyped-def]
    add(db_engine, "succeeded", 20)
    add(db_engine, "failed", 1, error="restic check found errors")
    body = ready(settings, db_engine, auth("ops:read"))
    assert body["status"] == "degraded"
    assert "the last backup failed: restic check found errors" in body["checks"]["backup"]["detail"]  # type: ignore[index]
