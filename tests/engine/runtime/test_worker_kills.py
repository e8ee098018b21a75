"""PostgreSQL + Redis (or RabbitMQ) under SIGKILLs: leases bring a dead worker's steps back within seconds.

Two ``despacho worker`` processes share the queue; one is SIGKILLed ten times
mid-flow (and started again each time). Events arrive in waves, one wave just before each kill, so
the flow cannot outrun the kills however fast the workers are. Every event ends with exactly one
outbox effect, and every step interrupted by a kill is claimed again within
10 s of it (the lease is 1.5 s, renewed every 0.4 s; the survivor's reaper looks
every 0.3 s and sends what it takes back ahead of the backlog).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from engine.language.events import Event
from engine.runtime.intake import accept_events
from engine.settings import BrokerSettings
from store.db import make_engine, session_scope
from store.migrate import upgrade
from store.models.runs import DeadLetter, RuleStep
from store.run_lifecycle import StepStatus
from store.types import utcnow
from tests.engine.runtime.pipeline_helpers import make_project
from tests.support.brokers import SHARED_BROKERS, shared_broker
from tests.support.postgres import throwaway_pg_database

KILLS = 10
WAVE = 60
LEASE_S = 1.5
EVENTS = WAVE * (KILLS + 1)
RULES = """
rules:
  - id: sync-order
    on: order.synced
    do:
      - http.request: {method: POST, url: "ERP_URL", json: {order: "{{ event.id }}"}}
      - sms.send: {to: "+5511987654321", body: "pedido {{ event.id }} sincronizado"}
"""


class SlowErp(BaseHTTPRequestHandler):
    """An ERP that answers one call at a time, 60 ms each, and notes each Idempotency-Key it receives.

    One call at a time keeps a wave of 60 events busy for 3.6 s or more, so the kill that follows
    a wave by one second finds steps running.
    """

    keys: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(0.06)
        SlowErp.keys.append(self.headers.get("Idempotency-Key") or "")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok": true}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def erp() -> Iterator[str]:
    SlowErp.keys = []
    server = HTTPServer(("127.0.0.1", 0), SlowErp)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/orders"
    server.shutdown()


def configure(root: Path, db_url: str, erp_url: str, broker: BrokerSettings) -> Path:
    config = make_project(root, RULES.replace("ERP_URL", erp_url),
                          connectors={"http": {"allow_private": True}})
    text = config.read_text().replace('broker: {url: "stub://"}\n', "")
    sqlite = f'database: {{url: "sqlite:///{root / "despacho.db"}"}}'
    text = text.replace(sqlite, f'database: {{url: "{db_url}"}}')
    config.write_text(text + f"""
broker: {{url: "{broker.url}", namespace: {broker.namespace}, coordination_url: "{broker.coordination_url}"}}
execution: {{worker_threads: 4, lease: {LEASE_S}, heartbeat: 0.4, reap_interval: 0.3, queued_timeout: 30,
            shutdown_timeout: 5, log_level: WARNING}}
""")
    return config


def start_worker(config: Path) -> subprocess.Popen[bytes]:
    despacho = Path(sys.executable).parent / "despacho"
    return subprocess.Popen([str(despacho), "--config", str(config), "worker"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def send_wave(db: sa.Engine, wave: int) -> None:
    with session_scope(db) as session:
        accept_events(session, [Event(type="order.synced", id=f"o{i:04d}")
                                for i in range(wave * WAVE, (wave + 1) * WAVE)])


def running(db: sa.Engine) -> dict[str, tuple[int, datetime]]:
    with Session(db) as session:
        rows = session.execute(sa.select(RuleStep.id, RuleStep.attempts, RuleStep.started_at)
                               .where(RuleStep.status == StepStatus.RUNNING))
        return {row.id: (row.attempts, row.started_at) for row in rows}


def census(db: sa.Engine) -> dict[tuple[str, str], int]:
    with Session(db) as session:
        rows = session.execute(sa.select(RuleStep.action, RuleStep.status, sa.func.count())
                               .group_by(RuleStep.action, RuleStep.status))
        return {(action, status): count for action, status, count in rows}


def finished(db: sa.Engine) -> int:
    with Session(db) as session:
        return session.execute(sa.select(sa.func.count()).select_from(RuleStep)
                               .where(RuleStep.status == StepStatus.SUCCEEDED)).scalar_one()


def resumptions(db: sa.Engine, killed_at: datetime, in_flight: dict[str, tuple[int, datetime]],
                within: float = 15) -> list[float]:
    """Seconds from the kill to the next claim of each step it interrupted.

    A step running at the kill was the victim's when it is claimed again (a higher attempt). The
    survivor's finish at the same attempt, or are still running with a lease renewed after the
    kill, which only a live worker can do: a batch of 16 steps waiting in turn on the slow ERP
    can hold its last ones longer than ``within``, and they were never interrupted.
    """
    pending = {step_id: attempt for step_id, (attempt, _) in in_flight.items()}
    renewed_after_kill = killed_at + timedelta(seconds=LEASE_S + 0.2)
    resumed: list[float] = []
    last: dict[str, str] = {}
    deadline = time.monotonic() + within
    while pending and time.monotonic() < deadline:
        with Session(db) as session:
            rows = session.execute(sa.select(RuleStep.id, RuleStep.attempts, RuleStep.status,
                                             RuleStep.started_at, RuleStep.lease_until)
                                   .where(RuleStep.id.in_(list(pending))))
            for row in rows:
                renewed = row.lease_until is not None and row.lease_until > renewed_after_kill
                if row.attempts > pending[row.id]:
                    resumed.append((row.started_at - killed_at).total_seconds())
                    del pending[row.id]
                elif row.status not in (StepStatus.RUNNING, StepStatus.QUEUED):
                    del pending[row.id]
                elif row.status == StepStatus.RUNNING and renewed:
                    del pending[row.id]  # a live worker's
                else:
                    lease = "no lease" if row.lease_until is None else \
                        f"lease until kill + {(row.lease_until - killed_at).total_seconds():.1f} s"
                    last[row.id] = f"{row.status}, attempt {row.attempts}, {lease}"
        time.sleep(0.1)
    assert not pending, (f"{len(pending)} interrupted steps not claimed again within {within} s: "
                         f"{sorted({last.get(step_id, '?') for step_id in pending})}")
    return resumed


@pytest.mark.parametrize("kind", SHARED_BROKERS)
def test_ten_sigkills_lose_nothing_double_no_effect_and_resume_within_seconds(tmp_path: Path, erp: str,
                                                                              kind: str) -> None:
    with throwaway_pg_database() as db_url, shared_broker(kind) as broker:
        upgrade(db_url)
        config = configure(tmp_path, db_url, erp, broker)
        db = make_engine(db_url)
        send_wave(db, 0)
        survivor, victim = start_worker(config), start_worker(config)
        resumed: list[float] = []
        try:
            deadline = time.monotonic() + 60
            while finished(db) < 50:
                assert time.monotonic() < deadline, "the workers never got going"
                time.sleep(0.2)
            for wave in range(1, KILLS + 1):
                send_wave(db, wave)
                time.sleep(1)
                in_flight = running(db)
                victim.send_signal(signal.SIGKILL)
                killed_at = utcnow()
                victim.wait(timeout=10)
                assert finished(db) < 2 * WAVE * (wave + 1), "the kill came after its wave had finished"
                victim = start_worker(config)
                resumed += resumptions(db, killed_at, in_flight)
            deadline = time.monotonic() + 180
            while finished(db) < 2 * EVENTS:
                assert time.monotonic() < deadline, f"{finished(db)} of {2 * EVENTS} finished: {census(db)}"
                time.sleep(0.2)
        finally:
            for worker in (survivor, victim):
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=30)
        with Session(db) as session:
            steps = {s.id: s for s in session.exec(select(RuleStep))}
            dead = session.exec(select(DeadLetter)).all()
        db.dispose()

    files = list((tmp_path / "outbox" / "sms").glob("*.json"))
    assert len(files) == EVENTS, "every event makes its SMS exactly once"
    assert dead == [] and {s.status for s in steps.values()} == {StepStatus.SUCCEEDED}
    assert len(set(SlowErp.keys)) == EVENTS  # each call carried its idempotency key
    print(f"\nresume after kill (s): {sorted(round(r, 2) for r in resumed)}; "
          f"ERP calls {len(SlowErp.keys)} for {EVENTS} keys")
    assert resumed, "no kill interrupted a step"
    assert max(resumed) <= 10
