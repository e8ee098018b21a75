"""The Status page: stored connector checks, queues, dead letters, the leader, the rule set."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from fastapi.testclient import TestClient

from store.db import session_scope
from store.models import Backup
from store.models.console import IntegrationCheck
from store.types import utcnow


def test_status_shows_each_connectors_latest_check_and_error_rate(
        browser: TestClient, admin: str, db_engine: sa.Engine) -> None:
    now = utcnow()
    with session_scope(db_engine) as session:
        session.add(IntegrationCheck(connector="sms", ok=True, latency_ms=40,
                                     checked_at=now - timedelta(hours=2)))
        session.add(IntegrationCheck(connector="sms", ok=False, latency_ms=900, error="timeout <b>x</b>",
                                     checked_at=now - timedelta(minutes=5)))
        session.add(Backup(status="succeeded", sha256="ab" * 32, started_at=now, finished_at=now))
    html = browser.get("/console/status").text
    assert "50% de 2" in html and "900 ms" in html
    assert "timeout &lt;b&gt;x&lt;/b&gt;" in html  # escaped
    assert "sha256 abababababab" in html
    assert "não verificado" in html  # the row has no verified_at
    assert "modo embutido" in html


def test_status_shows_when_the_last_backup_was_verified(
        browser: TestClient, admin: str, db_engine: sa.Engine) -> None:
    now = utcnow()
    with session_scope(db_engine) as session:
        session.add(Backup(status="succeeded", started_at=now, finished_at=now, verified_at=now))
    html = browser.get("/console/status").text
    assert "verificado" in html and "não verificado" not in html


def test_status_shows_each_daemons_rules_and_the_new_set_it_waits_for(
        browser: TestClient, admin: str, db_engine: sa.Engine) -> None:
    from store.daemon_rules import Candidate, Presence, report

    with session_scope(db_engine) as session:
        report(session, Presence("worker-2:77:9f3c0a1b", "worker-2", 77, "relay,workers", "d" * 64, "3f2a9c1",
                                 Candidate("e" * 64, "7b0d4e2", True)), active_changed=True,
               candidate_changed=True)
    html = browser.get("/console/status").text
    assert "worker-2:77:9f3c0a1b" in html and "3f2a9c1" in html
    assert "7b0d4e2</code> (aguardando)" in html


def test_check_now_stores_a_check_per_connector(browser: TestClient, admin: str,
                                                db_engine: sa.Engine) -> None:
    answer = browser.post("/console/status/checks", data={"csrf_token": admin})
    assert answer.status_code == 303
    with session_scope(db_engine) as session:
        names = {c for (c,) in session.execute(sa.select(IntegrationCheck.connector))}
    assert {"email", "sms", "whatsapp"} <= names


def test_a_viewer_cannot_run_the_checks(browser: TestClient, viewer: str) -> None:
    answer = browser.post("/console/status/checks", data={"csrf_token": viewer})
    assert answer.status_code == 403
