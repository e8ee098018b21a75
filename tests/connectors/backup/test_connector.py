"""``backup.run`` through the engine: a rule's step backs up the demo company's database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session, select

from engine.runtime.compose import build_core
from engine.settings import load_settings
from store.db import session_scope
from store.migrate import upgrade
from store.models import Backup
from store.models.runs import RuleStep
from store.seed import seed_demo
from tests.connectors.backup.conftest import PASSWORD, new_repository
from tests.engine.runtime.pipeline_helpers import Driver

RULES = """
rules:
  - id: nightly
    on: ops.backup_due
    do:
      - id: backup
        backup.run: {verify: true, forget: true}
      - log.write: {message: "snapshot {{ steps.backup.snapshot_id }}, {{ steps.backup.rows }} rows"}
"""


def project(root: Path) -> Path:
    (root / "rules").mkdir(parents=True)
    (root / "rules" / "r.yaml").write_text(RULES, encoding="utf-8")
    (root / "templates").mkdir()
    config = {
        "rules": {"path": str(root / "rules")}, "templates": {"path": str(root / "templates")},
        "outbox": {"path": str(root / "outbox")}, "database": {"url": f"sqlite:///{root / 'despacho.db'}"},
        "broker": {"url": "stub://"},
        "connectors": {"backup": {"transport": "restic", "repository": str(root / "repo"),
                                  "staging": str(root / "staging")}},
    }
    (root / "config.yaml").write_text(json.dumps(config), encoding="utf-8")
    return root / "config.yaml"


@pytest.fixture
def driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Driver:
    new_repository(tmp_path / "repo", tmp_path / "cache")
    monkeypatch.setenv("DESPACHO_BACKUP_PASSWORD", PASSWORD)
    monkeypatch.setenv("RESTIC_CACHE_DIR", str(tmp_path / "cache"))
    config = project(tmp_path)
    upgrade(f"sqlite:///{tmp_path / 'despacho.db'}")
    settings = load_settings(str(config), environ={})
    sent: list[tuple[str, int]] = []
    core = build_core(settings, sender=lambda ids, delay, urgent=False: sent.extend((i, delay) for i in ids))
    with session_scope(core.db) as session:
        seed_demo(session, seed=42)
    return Driver(core, sent)


def test_backup_run_in_a_rule_backs_up_the_demo_company_and_hands_its_outputs_on(driver: Driver) -> None:
    driver.emit("ops.backup_due", "b1")
    assert driver.drain() == ["succeeded", "succeeded"]

    with Session(driver.core.db) as session:
        step = session.exec(select(RuleStep).where(RuleStep.action == "backup.run")).one()
        (row,) = session.exec(select(Backup)).all()
    output = step.output or {}
    assert output["verified"] is True and output["engine"] == "sqlite" and output["reused"] is False
    assert output["rows"] > 3000 and output["path"] is None  # the demo: 3000 orders and more
    assert row.status == "succeeded" and row.location == output["snapshot_id"]
    assert row.verified_at is not None and row.verified_at == row.finished_at


def test_a_retried_backup_step_returns_the_snapshot_its_first_attempt_made(driver: Driver) -> None:
    from connectors.backup.connector import RunBackupParams
    from connectors.base import ActionCall

    connector = driver.core.runner.connectors["backup"]
    call = ActionCall(action="run", params=RunBackupParams(verify=False, forget=False),
                      idempotency_key="nightly:b1:0")
    first = connector.execute(call)
    again = connector.execute(call)
    assert again["snapshot_id"] == first["snapshot_id"] and again["reused"] is True
    assert again["rows"] == first["rows"]


def test_a_backup_run_without_verify_is_recorded_as_not_verified(driver: Driver) -> None:
    from connectors.backup.connector import RunBackupParams
    from connectors.base import ActionCall

    connector = driver.core.runner.connectors["backup"]
    connector.execute(ActionCall(action="run", params=RunBackupParams(verify=False, forget=False),
                                 idempotency_key="nightly:unverified:0"))
    with Session(driver.core.db) as session:
        (row,) = session.exec(select(Backup)).all()
    assert row.status == "succeeded" and row.verified_at is None
