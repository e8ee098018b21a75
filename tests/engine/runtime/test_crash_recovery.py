"""Crashes: a worker SIGKILLed mid-step, Redis or RabbitMQ restarted mid-flow, two daemons firing
schedules; on each shared broker."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from engine.language.events import Event
from engine.runtime.daemon import Daemon, Parts
from engine.settings import BrokerSettings, load_settings
from store.db import make_engine
from store.models.events import Event as EventRow
from store.models.runs import RuleRun, RuleStep
from tests.engine.runtime.pipeline_helpers import make_project
from tests.support.brokers import SHARED_BROKERS, shared_broker
from tests.support.rabbitmq_server import PrivateRabbitMQ
from tests.support.redis_server import PrivateRedis, shared_redis, unique_namespace

LOAD = """
rules:
  - id: notify
    on: load.test
    do:
      - sms.send: {to: "+5511987654321", body: "pedido {{ event.id }}"}
"""
EXECUTION = """
execution:
  worker_threads: 8
  lease: 2
  heartbeat: 0.5
  queued_timeout: 2
  reap_interval: 0.5
  shutdown_timeout: 5
  log_level: WARNING
"""


def configure(root: Path, rules: str, broker: BrokerSettings) -> Path:
    config = make_project(root, rules)
    with config.open("a", encoding="utf-8") as handle:
        handle.write(EXECUTION)
        handle.write(f"broker: {{url: '{broker.url}', namespace: {broker.namespace}, "
                     f"coordination_url: '{broker.coordination_url}'}}\n")
    text = config.read_text().replace('broker: {url: "stub://"}\n', "")
    config.write_text(text)
    return config


def counts(db: sa.Engine) -> dict[str, int]:
    with Session(db) as session:
        rows = session.execute(sa.select(RuleStep.status, sa.func.count()).group_by(RuleStep.status))
        return dict(rows.all())


def wait_until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def emit_all(db_url: str, events: list[Event]) -> None:
    from engine.runtime.intake import accept_events
    from store.db import session_scope

    engine = make_engine(db_url)
    with session_scope(engine) as session:
        accept_events(session, events)
    engine.dispose()


def start_worker(config: Path) -> subprocess.Popen:
    despacho = Path(sys.executable).parent / "despacho"
    return subprocess.Popen([str(despacho), "--config", str(config), "worker"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.parametrize("kind", SHARED_BROKERS)
def test_worker_killed_mid_step_finishes_after_restart_with_each_effect_once(tmp_path: Path,
                                                                              kind: str) -> None:
    with shared_broker(kind) as broker:
        worker_killed_mid_step(tmp_path, configure(tmp_path, LOAD, broker))


def worker_killed_mid_step(tmp_path: Path, config: Path) -> None:
    settings = load_settings(str(config), environ={})
    db = make_engine(settings.database.url)
    total = 300
    emit_all(settings.database.url, [Event(type="load.test", id=f"e{i:03d}") for i in range(total)])
    worker = start_worker(config)
    try:
        wait_until(lambda: counts(db).get("running", 0) > 0 and counts(db).get("succeeded", 0) > 20,
                   60, "steps running")
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        at_kill = counts(db)
        assert at_kill.get("succeeded", 0) < total, "the kill came too late to test anything"
        with Session(db) as session:
            interrupted = [s.id for s in session.exec(select(RuleStep).where(RuleStep.status == "running"))]
        worker = start_worker(config)
        wait_until(lambda: counts(db).get("succeeded", 0) == total, 90, "every step to succeed")
    finally:
        worker.kill()
        worker.wait(timeout=10)
    files = sorted((tmp_path / "outbox" / "sms").glob("*.json"))
    assert len(files) == total  # each effect exactly once
    with Session(db) as session:
        retaken = [session.get(RuleStep, step_id) for step_id in interrupted]
    assert interrupted and all(step.status == "succeeded" and step.attempts >= 2 for step in retaken)
    db.dispose()


def test_redis_restarted_while_events_flow_loses_and_doubles_nothing(tmp_path: Path) -> None:
    server = PrivateRedis(tmp_path)
    server.start()
    config = configure(tmp_path, LOAD, BrokerSettings(url=server.url, namespace=unique_namespace()))
    broker_restarted_while_events_flow(tmp_path, config, server)


def test_rabbitmq_restarted_while_events_flow_loses_and_doubles_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "rabbitmq"
    folder.mkdir()
    server = PrivateRabbitMQ(folder)
    server.start()
    broker = BrokerSettings(url=server.url, namespace=unique_namespace(), coordination_url=shared_redis())
    broker_restarted_while_events_flow(tmp_path, configure(tmp_path, LOAD, broker), server)


def broker_restarted_while_events_flow(tmp_path: Path, config: Path,
                                       server: PrivateRedis | PrivateRabbitMQ) -> None:
    settings = load_settings(str(config), environ={})
    daemon = Daemon(settings, Parts(scheduler=False, watch_rules=False))
    daemon.start()
    total = 400
    try:
        def produce() -> None:
            for batch in range(20):
                batch_events = [Event(type="load.test", id=f"e{batch:02d}-{i:02d}") for i in range(20)]
                daemon.core.accept(batch_events)
                time.sleep(0.05)

        producer = threading.Thread(target=produce)
        producer.start()
        time.sleep(0.4)
        server.stop()  # SIGKILLed: Redis loses every queued message, RabbitMQ every connection
        assert counts(daemon.core.db).get("succeeded", 0) < total, "the restart came too late to matter"
        server.start()
        producer.join()
        wait_until(lambda: counts(daemon.core.db).get("succeeded", 0) == total, 90, "every step")
        with Session(daemon.core.db) as session:
            runs = session.execute(sa.select(RuleRun.event_id, sa.func.count()).group_by(RuleRun.event_id))
            per_event = dict(runs.all())
    finally:
        daemon.stop()
        server.stop()
    assert len(per_event) == total and set(per_event.values()) == {1}
    assert len(list((tmp_path / "outbox" / "sms").glob("*.json"))) == total


@pytest.mark.parametrize("kind", SHARED_BROKERS)
def test_two_daemons_fire_each_schedule_once(tmp_path: Path, kind: str) -> None:
    rules = """
rules:
  - id: tick
    on: {every: 1s}
    do:
      - event.emit: {type: tick.done, data: {}}
"""
    with shared_broker(kind) as broker:
        config = configure(tmp_path, rules, broker)
        first = Daemon(load_settings(str(config), environ={}), Parts(watch_rules=False))
        second = Daemon(load_settings(str(config), environ={}), Parts(watch_rules=False))
        first.start()
        second.start()
        try:
            time.sleep(4.5)
        finally:
            first.stop()
            second.stop()
    assert sum(1 for d in (first, second) if d.leader and d.leader.is_leader()) <= 1
    db = make_engine(load_settings(str(config), environ={}).database.url)
    with Session(db) as session:
        fires = [e.id for e in session.exec(select(EventRow).where(EventRow.type == "schedule"))]
        runs = session.execute(sa.select(RuleRun.event_id, sa.func.count()).group_by(RuleRun.event_id))
        per_fire = dict(runs.all())
    db.dispose()
    assert len(fires) >= 3
    assert len(fires) == len(set(fires)) and set(per_fire.values()) == {1}
