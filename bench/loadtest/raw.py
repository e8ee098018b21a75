"""The raw Dramatiq baseline: plain actors on the same Redis doing the same work, minimally.

One message per event; the actor makes the same HTTP call to the vendor (a new connection, the
same JSON body and Idempotency-Key header) and inserts one row in PostgreSQL (autocommit, one
connection per thread). No rules, no claim, no lease, no record of the outcome: what despacho
adds on top is the difference.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import dramatiq
import psycopg
from dramatiq.brokers.redis import RedisBroker

TABLE = "CREATE TABLE IF NOT EXISTS raw_done (id text PRIMARY KEY, sent_at timestamptz, " \
        "started_at timestamptz, done_at timestamptz)"


def declare(redis_url: str, namespace: str, vendor_url: str,
            dsn: str) -> tuple[dramatiq.Broker, dramatiq.Actor[Any, Any]]:
    broker = RedisBroker(url=redis_url, namespace=namespace)  # type: ignore[no-untyped-call]
    local = threading.local()
    vendor = urlsplit(vendor_url)

    def effect(event_id: str, sent_at: float) -> None:
        started = time.time()
        body = json.dumps({"event": event_id}).encode()
        connection = http.client.HTTPConnection(vendor.hostname or "127.0.0.1", vendor.port, timeout=30)
        connection.request("POST", "/raw", body, {"Content-Type": "application/json",
                                                  "Idempotency-Key": f"raw:{event_id}"})
        answer = connection.getresponse()
        answer.read()
        connection.close()
        if answer.status != 200:
            raise RuntimeError(f"vendor answered {answer.status}")
        if getattr(local, "db", None) is None:
            local.db = psycopg.connect(dsn, autocommit=True)
        local.db.execute("INSERT INTO raw_done VALUES (%s, to_timestamp(%s), to_timestamp(%s), "
                         "clock_timestamp())", (event_id, sent_at, started))

    actor: dramatiq.Actor[Any, Any] = dramatiq.Actor(effect, broker=broker, actor_name="raw_effect",
                                                     queue_name="raw", priority=0, options={"max_retries": 0})
    return broker, actor


def serve(redis_url: str, namespace: str, vendor_url: str, dsn: str, threads: int, stop: Any) -> None:
    broker, _ = declare(redis_url, namespace, vendor_url, dsn)
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=20)
    worker.start()
    stop.wait()
    worker.stop()


class RawWorkers:
    def __init__(self, redis_url: str, vendor_url: str, dsn: str, processes: int, threads: int = 8) -> None:
        self.namespace = f"raw-{uuid.uuid4().hex[:8]}"
        self.dsn = dsn
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(TABLE)
            conn.execute("TRUNCATE raw_done")
        self.broker, self.actor = declare(redis_url, self.namespace, vendor_url, dsn)
        context = multiprocessing.get_context("spawn")
        self.stopping = context.Event()
        self.processes = [context.Process(target=serve, args=(redis_url, self.namespace, vendor_url, dsn,
                                                             threads, self.stopping))
                          for _ in range(processes)]

    def send(self, event_id: str) -> None:
        self.actor.send(event_id, time.time())

    def start(self) -> None:
        for process in self.processes:
            process.start()

    def done(self) -> int:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM raw_done").fetchone()
        return int(row[0]) if row else 0

    def wait(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.done() < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"raw Dramatiq: {self.done()} of {count} done in {timeout:g} s")
            time.sleep(0.25)

    def span(self) -> float:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            row = conn.execute("SELECT extract(epoch FROM max(done_at) - min(started_at)) "
                               "FROM raw_done").fetchone()
        return float(row[0]) if row else float("nan")

    def latencies_ms(self, prefix: str) -> list[float]:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            rows = conn.execute("SELECT extract(epoch FROM done_at - sent_at) * 1000 FROM raw_done "
                                "WHERE id LIKE %s", (f"{prefix}%",)).fetchall()
        return sorted(float(value) for (value,) in rows)

    def stop(self) -> None:
        self.stopping.set()
        for process in self.processes:
            process.join(timeout=60)
        self.broker.flush_all()
