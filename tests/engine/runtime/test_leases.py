"""Step leases and infrastructure failures: a worker's steps come back when it dies, never as dead letters."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
import sqlalchemy.exc
from sqlmodel import Session, select

from engine.runtime.compose import build_core
from engine.runtime.leases import Leases
from engine.settings import load_settings
from store.models.events import Event as EventRow
from store.models.runs import DeadLetter, RuleStep
from store.runs import claim_steps, take_back_lapsed
from store.types import utcnow
from tests.engine.runtime.pipeline_helpers import (
    BACKUP,
    Driver,
    ScriptedConnector,
    make_driver,
    make_project,
)

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def queued_backup(tmp_path: Path) -> tuple[Driver, str]:
    driver = make_driver(make_project(tmp_path, BACKUP))
    driver.emit("ops.backup_due", "b1")
    driver.core.relay.relay_once()
    ((step_id, _),) = driver.sent
    driver.sent.clear()
    return driver, step_id


def lapse(driver: Driver, step_id: str) -> None:
    with Session(driver.core.db) as session:
        session.execute(sa.update(RuleStep).where(RuleStep.id == step_id).values(lease_until=LONG_AGO))
        session.commit()


def step(driver: Driver, step_id: str) -> RuleStep:
    with Session(driver.core.db) as session:
        return session.get(RuleStep, step_id)


def test_a_renewed_lease_keeps_its_step_and_a_lapsed_one_is_taken_back(tmp_path: Path) -> None:
    driver, step_id = queued_backup(tmp_path)
    leases = Leases(driver.core.db, timedelta(seconds=5), heartbeat=timedelta(milliseconds=50))
    reaper = driver.core.reaper
    with driver.core.transaction() as tx:
        (claimed,) = claim_steps(tx.session, [step_id], utcnow(), leases.lease)
    lapse(driver, step_id)
    leases.hold(step_id, claimed.attempts)
    time.sleep(0.03)  # held half a heartbeat: the next beat renews it
    assert leases.renew() == 1  # the worker's heartbeat
    assert reaper.reap_once() == 0 and step(driver, step_id).status == "running"
    leases.release(step_id)  # the worker died: nobody renews it
    lapse(driver, step_id)
    assert reaper.reap_once() == 1
    assert step(driver, step_id).status == "queued" and driver.sent == [(step_id, 0)]


def test_a_step_just_claimed_is_not_renewed_until_half_a_heartbeat_passed(tmp_path: Path) -> None:
    driver, step_id = queued_backup(tmp_path)
    leases = Leases(driver.core.db, timedelta(seconds=5), heartbeat=timedelta(milliseconds=200))
    with driver.core.transaction() as tx:
        (claimed,) = claim_steps(tx.session, [step_id], utcnow(), leases.lease)
    leases.hold(step_id, claimed.attempts)
    assert leases.renew() == 0  # its claim's lease is whole: no row touched
    time.sleep(0.11)
    assert leases.renew() == 1
    assert leases.renew() == 0  # renewed just now


def test_a_stale_claim_cannot_record_over_the_newer_one(tmp_path: Path) -> None:
    driver, step_id = queued_backup(tmp_path)
    runner, tree = driver.core.runner, driver.core.runner.tree
    with driver.core.transaction() as tx:
        (first,) = claim_steps(tx.session, [step_id], utcnow(), timedelta(seconds=5))
        take_back_lapsed(tx.session, utcnow() + timedelta(seconds=10))  # the first worker froze
    assert runner.run_step(step_id) == "succeeded"  # a second worker ran it (attempt 2)
    with driver.core.transaction() as tx:
        late = tree.record_success(tx, first, "succeeded", {"late": True}, {}, utcnow())
    with driver.core.outbox.bookkeeping() as conn:
        grouped = tree.record_plain_successes(conn, [(first, "succeeded", {"late": True}, {})], utcnow())
    assert late == "succeeded" and grouped == {}
    recorded = step(driver, step_id)
    assert (recorded.attempts, recorded.params) == (2, {})  # the late record changed nothing


def test_a_database_outage_during_the_call_leaves_the_step_to_its_lease(tmp_path: Path) -> None:
    driver, step_id = queued_backup(tmp_path)
    connectors = driver.core.runner.connectors
    outage = sqlalchemy.exc.OperationalError("INSERT INTO backups", {}, Exception("connection closed"))
    connectors["backup"] = backup = ScriptedConnector([outage], connectors["backup"])
    assert driver.core.runner.run_step(step_id) is None  # not recorded: neither retried nor dead
    assert step(driver, step_id).status == "running"
    with Session(driver.core.db) as session:
        assert session.exec(select(DeadLetter)).all() == []
        assert session.exec(select(EventRow).where(EventRow.type == "action.failed")).all() == []
    lapse(driver, step_id)
    assert driver.core.reaper.reap_once() == 1
    driver.drain()
    assert step(driver, step_id).status == "succeeded" and len(backup.calls) == 2


def test_claiming_with_the_database_unreachable_changes_nothing(tmp_path: Path) -> None:
    settings = load_settings(str(make_project(tmp_path, BACKUP)), environ={})
    settings.database.url = "postgresql://postgres@127.0.0.1:1/nowhere"  # nothing listens on port 1
    core = build_core(settings, sender=lambda ids, delay, urgent=False: None)
    assert core.runner.run_steps(["s1", "s2"]) == {"s1": None, "s2": None}
    core.close()
