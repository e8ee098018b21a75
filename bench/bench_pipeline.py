"""End-to-end throughput and latency of the pipeline, as ratios of raw Dramatiq in the same run.

Run: .venv/bin/python bench/bench_pipeline.py [--events 3000] [--skip-redis] [--skip-embedded]
Needs the local Redis (127.0.0.1:6379) and PostgreSQL (127.0.0.1:5432) for the production part.

- production: Redis broker + PostgreSQL, 2 worker processes x 8 threads; each event matches one rule
  with one no-op action (log.write below the log level). Baseline: a Dramatiq no-op actor, same Redis,
  2 processes x 8 threads. Throughput is measured between the first and the last completion, so
  process start-up is left out of both.
- latency: events accepted at 200/s for 10 s; p50/p99 from accepted (event recorded) to step started.
  Baseline: the raw Dramatiq no-op at 200 msg/s, from send to run. Then, after 2 s idle spells,
  single events: accepted -> step started (p50 of 5).
- embedded: SQLite + StubBroker with in-process worker threads; baseline: a StubBroker no-op actor.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
import redis
import sqlalchemy as sa
from sqlmodel import Session

from bench import _noop_worker
from engine.language.events import Event
from engine.runtime.daemon import Daemon, Parts
from engine.runtime.intake import accept_events
from engine.runtime.logs import configure
from engine.settings import Settings, load_settings
from store.db import make_engine, session_scope
from store.migrate import upgrade
from store.models.events import Event as EventRow
from store.models.runs import RuleRun, RuleStep

REDIS = "redis://127.0.0.1:6379/0"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
RULE = """
rules:
  - id: bench
    on: bench.event
    do:
      - log.write: {message: "bench {{ event.id }}", level: debug}
"""


def project(root: Path, database_url: str, broker_url: str, namespace: str) -> Settings:
    (root / "rules").mkdir(parents=True, exist_ok=True)
    (root / "templates").mkdir(exist_ok=True)
    (root / "rules" / "bench.yaml").write_text(RULE)
    config = root / "config.yaml"
    config.write_text(textwrap.dedent(f"""
        rules: {{path: {root / 'rules'}}}
        templates: {{path: {root / 'templates'}}}
        outbox: {{path: {root / 'outbox'}}}
        database: {{url: "{database_url}"}}
        broker: {{url: "{broker_url}", namespace: {namespace}}}
        execution: {{worker_threads: 8, log_level: WARNING}}
    """))
    upgrade(database_url)
    return load_settings(str(config), environ={})


def store_events(database_url: str, count: int, prefix: str) -> None:
    engine = make_engine(database_url)
    for start in range(0, count, 1000):
        with session_scope(engine) as session:
            accept_events(session, [Event(type="bench.event", id=f"{prefix}{i}")
                                    for i in range(start, min(count, start + 1000))])
    engine.dispose()


def completion_span(database_url: str, expected: int, timeout: float) -> float:
    """Seconds from the first step started to the last finished, once all ``expected`` are done.

    Steps finish in batches (one timestamp per batch), so the span starts at the first start,
    not the first finish: the first batch's work is counted. While waiting, only the count is
    read (from the status index): reading every finished row five times a second took a core
    from the pipeline being measured.
    """
    engine = make_engine(database_url)
    deadline = time.monotonic() + timeout
    succeeded = RuleStep.status == "succeeded"
    count = sa.select(sa.func.count()).where(succeeded)
    try:
        with Session(engine) as session:
            while (done := session.execute(count).scalar_one()) < expected:
                if time.monotonic() > deadline:
                    raise SystemExit(f"only {done} of {expected} steps finished in {timeout} s")
                session.rollback()  # a fresh snapshot for the next count
                time.sleep(0.2)
            first, last = session.execute(sa.select(sa.func.min(RuleStep.started_at),
                                                    sa.func.max(RuleStep.finished_at)).where(succeeded)).one()
        return (last - first).total_seconds()
    finally:
        engine.dispose()


def daemon_process(settings: Settings, stop) -> None:
    configure(settings.execution.log_level)  # as `despacho worker` does: no per-step log lines
    daemon = Daemon(settings, Parts(scheduler=False, watch_rules=False))
    daemon.start()
    stop.wait()
    daemon.stop()


# --- raw Dramatiq ---------------------------------------------------------------------------------

def start_noop_workers(namespace: str, processes: int) -> tuple[list, object]:
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    workers = [context.Process(target=_noop_worker.serve, args=(REDIS, namespace, 8, stop))
               for _ in range(processes)]
    for worker in workers:
        worker.start()
    return workers, stop


def collect_runs(namespace: str, count: int, workers: list, stop, broker) -> dict[int, float]:
    """Wait for ``count`` no-op runs, stop the workers; message index -> when it ran."""
    client = redis.Redis.from_url(REDIS)
    key = f"{namespace}:done"
    while client.llen(key) < count:
        time.sleep(0.1)
    stop.set()
    for worker in workers:
        worker.join()
    ran = {int(index): float(at) for index, at in (x.split(b":") for x in client.lrange(key, 0, -1))}
    client.delete(key)
    broker.flush_all()
    return ran


def raw_dramatiq(count: int, processes: int) -> float:
    namespace = f"bench-raw-{uuid.uuid4().hex[:8]}"
    broker, actor = _noop_worker.declare(REDIS, namespace)
    for index in range(count):
        actor.send(index)
    workers, stop = start_noop_workers(namespace, processes)
    stamps = sorted(collect_runs(namespace, count, workers, stop, broker).values())
    return (count - 1) / (stamps[-1] - stamps[0])


def warm_up(actor, namespace: str, count: int = 20) -> None:
    """Until the workers run messages: on a loaded machine their start took longer than any fixed sleep,
    and the first paced messages then measured the start, not the broker (p99 of seconds)."""
    client = redis.Redis.from_url(REDIS)
    key = f"{namespace}:done"
    for index in range(-count, 0):
        actor.send(index)
    while client.llen(key) < count:
        time.sleep(0.05)
    time.sleep(1)  # every consumer past its first polls
    client.delete(key)


def raw_dramatiq_latency(rate: int, seconds: int, processes: int) -> list[float]:
    """Send -> run of a no-op at ``rate``/s, in ms: the latency floor of the broker and workers."""
    namespace = f"bench-lat-{uuid.uuid4().hex[:8]}"
    broker, actor = _noop_worker.declare(REDIS, namespace)
    workers, stop = start_noop_workers(namespace, processes)
    warm_up(actor, namespace)
    total, sent = rate * seconds, {}
    start = time.perf_counter()
    for index in range(total):
        pause = start + index / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        sent[index] = time.time()
        actor.send(index)
    ran = collect_runs(namespace, total, workers, stop, broker)
    return sorted((ran[i] - sent[i]) * 1000 for i in range(total))


# --- production: Redis + PostgreSQL ---------------------------------------------------------------

def pg_database() -> tuple[str, str]:
    name = f"despacho_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_pg(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def production(count: int, processes: int) -> tuple[float, list[float], list[float]]:
    name, url = pg_database()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = project(Path(tmp), url, REDIS, f"bench-{uuid.uuid4().hex[:8]}")
            store_events(url, count, "t")
            context = multiprocessing.get_context("spawn")
            stop = context.Event()
            workers = [context.Process(target=daemon_process, args=(settings, stop))
                       for _ in range(processes)]
            for worker in workers:
                worker.start()
            span = completion_span(url, count, 600)
            latencies = paced_latencies(url, rate=200, seconds=10, already=count)
            idle = idle_latencies(url, already=count + 200 * 10)
            stop.set()
            for worker in workers:
                worker.join()
        return count / span, latencies, idle
    finally:
        drop_pg(name)


def paced_latencies(url: str, rate: int, seconds: int, already: int) -> list[float]:
    """Accept events one per transaction at ``rate``/s; latency = step started - event recorded."""
    engine = make_engine(url)
    total = rate * seconds
    start = time.perf_counter()
    for index in range(total):
        target = start + index / rate
        pause = target - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        with session_scope(engine) as session:
            accept_events(session, [Event(type="bench.event", id=f"l{index}")])
    completion_span(url, already + total, 120)
    return start_latencies(engine, "l%")


def start_latencies(engine: sa.Engine, ids_like: str) -> list[float]:
    """Event recorded -> its step started, in ms, for the events whose id is like ``ids_like``."""
    with Session(engine) as session:
        rows = session.execute(
            sa.select(EventRow.recorded_at, RuleStep.started_at)
            .join(RuleRun, RuleRun.event_id == EventRow.id)
            .join(RuleStep, RuleStep.run_id == RuleRun.id)
            .where(EventRow.id.like(ids_like))
        ).all()
    engine.dispose()
    return sorted((started - recorded).total_seconds() * 1000 for recorded, started in rows)


def idle_latencies(url: str, already: int, spells: int = 5) -> list[float]:
    """After 2 s with nothing to do, one event: accepted -> step started, in ms."""
    engine = make_engine(url)
    for index in range(spells):
        time.sleep(2)
        with session_scope(engine) as session:
            accept_events(session, [Event(type="bench.event", id=f"idle{index}")])
        completion_span(url, already + index + 1, 60)
    return start_latencies(engine, "idle%")


# --- embedded: SQLite + StubBroker ----------------------------------------------------------------

def raw_stub(count: int) -> float:
    import dramatiq
    from dramatiq.brokers.stub import StubBroker

    broker = StubBroker()
    broker.emit_after("process_boot")
    stamps: list[float] = []

    def noop(index: int) -> None:
        stamps.append(time.perf_counter())

    actor = dramatiq.Actor(noop, broker=broker, actor_name="noop", queue_name="bench", priority=0,
                           options={"max_retries": 0})
    for index in range(count):
        actor.send(index)
    worker = dramatiq.Worker(broker, worker_threads=8, worker_timeout=100)
    worker.start()
    broker.join("bench")
    worker.stop()
    return (count - 1) / (max(stamps) - min(stamps))


def embedded(count: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        settings = project(Path(tmp), url, "stub://", "bench")
        store_events(url, count, "s")
        configure(settings.execution.log_level)  # as `despacho run` does: no per-step log lines
        daemon = Daemon(settings, Parts(scheduler=False, watch_rules=False))
        daemon.start()
        try:
            span = completion_span(url, count, 600)
        finally:
            daemon.stop()
    return count / span


def percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(share * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--skip-redis", action="store_true")
    parser.add_argument("--skip-embedded", action="store_true")
    args = parser.parse_args()
    if not args.skip_redis:
        raw = raw_dramatiq(args.events * 3, processes=2)
        raw_latencies = raw_dramatiq_latency(rate=200, seconds=10, processes=2)
        ours, latencies, idle = production(args.events, processes=2)
        print(f"raw Dramatiq no-op, Redis, 2x8:            {raw:8.0f} msg/s")
        print(f"despacho events, Redis + PostgreSQL, 2x8:  {ours:8.0f} events/s")
        print(f"ratio despacho / raw Dramatiq: {ours / raw:.2f} (target >= 0.5)")
        raw_p99, our_p99 = percentile(raw_latencies, 0.99), percentile(latencies, 0.99)
        print(f"raw Dramatiq send -> run at 200 msg/s: p50 {statistics.median(raw_latencies):.1f} ms, "
              f"p99 {raw_p99:.1f} ms")
        print(f"latency accepted -> step started at 200 events/s: p50 {statistics.median(latencies):.1f} ms, "
              f"p99 {our_p99:.1f} ms ({len(latencies)} events)")
        print(f"ratio p99 despacho / raw Dramatiq: {our_p99 / raw_p99:.2f} (target <= 2)")
        print(f"first event after 2 s idle -> step started: p50 {statistics.median(idle):.1f} ms "
              f"({', '.join(f'{v:.0f}' for v in idle)} ms; target p50 <= 50)")
    if not args.skip_embedded:
        raw_embedded = raw_stub(args.events * 3)
        ours_embedded = embedded(args.events)
        print(f"raw StubBroker no-op, in-process, 8 threads: {raw_embedded:8.0f} msg/s")
        print(f"despacho embedded (SQLite + StubBroker):     {ours_embedded:8.0f} events/s")
        print(f"ratio despacho / raw StubBroker: {ours_embedded / raw_embedded:.3f}")


if __name__ == "__main__":
    main()
