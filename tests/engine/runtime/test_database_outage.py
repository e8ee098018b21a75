"""A PostgreSQL outage under load: steps wait for the database instead of dying.

A private PostgreSQL server is stopped for a minute while events flow through a
daemon (Redis broker, worker threads). When it is back every event has run
once: no event lost, no dead letter, no ``action.failed`` (the outage was not
the actions' failure), each outbox effect once.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import sqlalchemy as sa
import sqlalchemy.exc
from sqlmodel import Session, select

from engine.language.events import Event
from engine.runtime.daemon import Daemon, Parts
from engine.settings import load_settings
from store.migrate import upgrade
from store.models.events import Event as EventRow
from store.models.runs import DeadLetter, RuleRun, RuleStep
from tests.engine.runtime.pipeline_helpers import make_project
from tests.support.postgres import PrivatePostgres
from tests.support.redis_server import shared_redis, unique_namespace

OUTAGE_SECONDS = 60
BATCHES, PER_BATCH = 60, 10
RULES = """
rules:
  - id: confirm
    on: order.confirmed
    do:
      - sms.send: {to: "+5511987654321", body: "pedido {{ event.id }} confirmado"}
      - event.emit: {type: order.notified, data: {order: "{{ event.id }}"}}
"""


def configure(root: Path, db_url: str) -> Path:
    config = make_project(root, RULES)
    sqlite = f'database: {{url: "sqlite:///{root / "despacho.db"}"}}'
    text = config.read_text().replace('broker: {url: "stub://"}\n', "").replace(sqlite, "")
    config.write_text(text + f"""
database: {{url: "{db_url}"}}
broker: {{url: "{shared_redis()}", namespace: {unique_namespace()}}}
execution: {{worker_threads: 4, lease: 2, heartbeat: 0.5, reap_interval: 0.5, queued_timeout: 3,
            poll_interval: 0.05, shutdown_timeout: 5, log_level: ERROR}}
""")
    return config


def produce(daemon: Daemon, stored: list[str]) -> None:
    """A client that keeps sending, retrying a batch the database could not take."""
    for batch in range(BATCHES):
        events = [Event(type="order.confirmed", id=f"o{batch:02d}-{i}") for i in range(PER_BATCH)]
        while True:
            try:
                daemon.core.accept(events)
                break
            except sqlalchemy.exc.OperationalError:
                time.sleep(0.5)
        stored.extend(event.id for event in events)
        time.sleep(0.1)


def test_a_minute_without_postgresql_loses_nothing_and_kills_nothing(tmp_path: Path) -> None:
    server = PrivatePostgres()
    server.init()
    server.start()
    upgrade(server.url)
    daemon = Daemon(load_settings(str(configure(tmp_path, server.url)), environ={}),
                    Parts(scheduler=False, watch_rules=False))
    daemon.start()
    stored: list[str] = []
    try:
        producer = threading.Thread(target=produce, args=(daemon, stored))
        producer.start()
        time.sleep(2)  # events and steps in flight
        server.stop()
        time.sleep(OUTAGE_SECONDS)
        server.start()
        producer.join(timeout=120)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with Session(daemon.core.db) as session:
                done = session.execute(sa.select(sa.func.count()).select_from(RuleRun)
                                       .where(RuleRun.status == "succeeded")).scalar_one()
            if done >= BATCHES * PER_BATCH:
                break
            time.sleep(0.5)
        with Session(daemon.core.db) as session:
            runs = session.exec(select(RuleRun)).all()
            steps = session.exec(select(RuleStep)).all()
            dead = session.exec(select(DeadLetter)).all()
            failed = session.exec(select(EventRow).where(EventRow.type == "action.failed")).all()
            notified = session.exec(select(EventRow).where(EventRow.type == "order.notified")).all()
    finally:
        daemon.stop()
        server.remove()
    assert len(stored) == BATCHES * PER_BATCH
    assert sorted(run.event_id for run in runs) == sorted(stored), "every event ran, once"
    assert {run.status for run in runs} == {"succeeded"}
    assert {step.status for step in steps} == {"succeeded"}
    assert dead == [] and failed == []
    assert len(list((tmp_path / "outbox" / "sms").glob("*.json"))) == len(stored)
    assert len(notified) == len(stored)
